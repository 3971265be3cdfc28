-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- One server, one database and one owner per service (MLflow has a second one for its users and
-- permissions). The passwords are the compose defaults for a local stack: they must match
-- AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, mlflow's --backend-store-uri in docker-compose.yaml and the
-- database_uri of docker/mlflow/basic_auth.ini (tests/docker/test_compose.py checks that they do).

CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;

CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
CREATE DATABASE mlflow_auth OWNER mlflow;
