"""The embedded demo: real Airflow (standalone, SQLite), MLflow (SQLite), an SMTP sink, local data."""
