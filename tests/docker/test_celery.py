"""The Celery worker and the scheduler's CeleryExecutor import with the locked celery and provider: celery 5.7
dropped a name the provider 3.26 imports, and every worker exited at start (found by make compose-check)."""

from __future__ import annotations


def test_the_celery_executor_imports_with_the_locked_celery():
    from airflow.providers.celery.executors import celery_executor_utils
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor

    assert callable(celery_executor_utils.execute_workload) and CeleryExecutor.__name__ == "CeleryExecutor"
