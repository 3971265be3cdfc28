"""riskops domain code: datasets, preprocessing, and (later) training, scoring and monitoring.

Pure Python with no Airflow imports, so the same functions run in tests, in the CLI and in containers.
"""
