"""Airflow-aware glue shared by the riskops DAGs: defaults, assets, and the container-task factory.

Kept small on purpose: Airflow loads plugins once per process and never reloads them.
"""
