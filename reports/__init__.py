"""PDF reports (reportlab + matplotlib charts) rendered from plain data produced by ml; no Airflow imports."""
