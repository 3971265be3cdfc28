-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- One server, one database and one owner per service. The passwords are the compose defaults for a
-- local stack: they must match AIRFLOW__DATABASE__SQL_ALCHEMY_CONN and mlflow's --backend-store-uri
-- in docker-compose.yaml (tests/docker/test_compose.py checks that they do).

CREATE USER airflow WITH PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;

CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;

-- the monitoring history (RISKOPS_HISTORY_URL); riskops creates its table by its own migrations
CREATE USER riskops WITH PASSWORD 'riskops';
CREATE DATABASE riskops OWNER riskops;
