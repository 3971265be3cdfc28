"""Policy every riskops DAG follows: owner, retries, failure mails, tags, and the datasets that get DAGs."""

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


def cron_or_asset(expression: str, asset: object):  # type: ignore[no-untyped-def]
    """Scheduled by a cron timetable or by an Asset's events, whichever comes first; by the Asset alone when
    cron schedules are switched off (settings.cron_schedules)."""
    from airflow.sdk import AssetOrTimeSchedule

    timetable = cron(expression)
    return AssetOrTimeSchedule(timetable=timetable, assets=[asset]) if timetable is not None else [asset]


def tags(*extra: str) -> list[str]:
    return ["riskops", *extra]


def riskops_dag(dag_id: str, description: str, schedule: object, tags_: list[str], doc_md: str | None,
                **kwargs: object):  # type: ignore[no-untyped-def]
    """A DAG with the platform's policy: start date, no catch-up, default args (retries, and a mail to the
    operations address when a task fails for good), tags and docs."""
    from airflow.sdk import DAG

    from riskops_airflow.notify import failure_notifier

    return DAG(dag_id=dag_id, description=description, schedule=schedule, start_date=START_DATE, catchup=False,
               default_args={**DEFAULT_ARGS, "on_failure_callback": failure_notifier()}, tags=tags(*tags_),
               doc_md=doc_md, **kwargs)
