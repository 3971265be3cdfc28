#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d; sourced by the upstream
# image's entrypoint and by docker/postgres/entrypoint.sh, as user $POSTGRES_USER). One server, one database
# and one owner per service (MLflow has a second one for its users and permissions). Each owner's password
# comes from compose (AIRFLOW_DB_PASSWORD, MLFLOW_DB_PASSWORD, RISKOPS_DB_PASSWORD: no defaults); psql's
# :'variables' quote them as SQL literals, and psql's output is discarded, so none reaches a log.
set -eu
: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}" "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is not set}" \
  "${RISKOPS_DB_PASSWORD:?RISKOPS_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v mlflow_pw="$MLFLOW_DB_PASSWORD" -v riskops_pw="$RISKOPS_DB_PASSWORD" \
  >/dev/null <<'SQL'
CREATE USER airflow WITH PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;

CREATE USER mlflow WITH PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow OWNER mlflow;
CREATE DATABASE mlflow_auth OWNER mlflow;

-- the monitoring history (RISKOPS_HISTORY_URL); riskops creates its table by its own migrations
CREATE USER riskops WITH PASSWORD :'riskops_pw';
CREATE DATABASE riskops OWNER riskops;
SQL
