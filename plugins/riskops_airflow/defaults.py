"""Policy every riskops DAG follows: owner, retries, tags, and the datasets that get DAGs."""

from __future__ import annotations

import datetime as dt

import pendulum

from riskops_airflow import settings

OWNER = "risk-platform"
# Before any replayed history, so backfills over historic windows (bank data starts in 2008) are allowed.
START_DATE = pendulum.datetime(2000, 1, 1, tz="UTC")

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def dataset_names() -> list[str]:
    """One name per spec file; a file listing only, so parsing DAGs stays cheap and side-effect free."""
    return sorted(p.stem for p in settings.specs_dir().glob("*.yaml"))


def cron(expression: str):  # type: ignore[no-untyped-def]
    """A data-interval cron timetable, or None when cron schedules are switched off (settings.cron_schedules)."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable(expression, timezone="UTC") if settings.cron_schedules() else None


def tags(*extra: str) -> list[str]:
    return ["riskops", *extra]


def riskops_dag(dag_id: str, description: str, schedule: object, tags_: list[str], doc_md: str | None,
                **kwargs: object):  # type: ignore[no-untyped-def]
    """A DAG with the platform's policy: start date, no catch-up, default args, tags and docs."""
    from airflow.sdk import DAG

    return DAG(dag_id=dag_id, description=description, schedule=schedule, start_date=START_DATE, catchup=False,
               default_args=DEFAULT_ARGS, tags=tags(*tags_), doc_md=doc_md, **kwargs)
