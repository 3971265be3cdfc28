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
    "retry_delay": dt.timedelta(seconds=settings.retry_delay_seconds()),
    # Airflow 3 reads this as a multiplier: the second retry waits about twice as long as the first
    "retry_exponential_backoff": 2.0,
}


def _specs() -> tuple[list[str], dict[str, str]]:
    from ml.config import specs_dir
    from ml.spec import load_specs  # YAML and pydantic only: cheap, no database, no network

    valid, invalid = load_specs(specs_dir())
    return sorted(valid), invalid


def dataset_names() -> list[str]:
    """The datasets whose spec file is valid; each gets its DAGs (see `invalid_specs` for the others)."""
    return _specs()[0]


def approval_quorum(dataset: str) -> int:
    """How many distinct approvers a promotion or rollback of the dataset needs: its spec's `oversight` quorum,
    at least RISKOPS_APPROVAL_QUORUM (`ml.spec.Oversight.quorum`); the number of approval gates its
    DAGs chain."""
    from ml.config import Settings
    from ml.spec import get_spec

    settings = Settings.from_env()
    return get_spec(settings.specs_dir, dataset).oversight.quorum(settings.approval_quorum)


def invalid_specs(kind: str) -> None:
    """Make the invalid specs an import error of the calling DAG file (`kind`: the stage, e.g. score),
    naming each dataset and its error, while the file's DAGs of valid datasets load as usual.

    Airflow records an import error for a DAG that fails validation and keeps the file's other DAGs, so one
    stand-in DAG that fails validation with the specs' errors does it.
    """
    from airflow.sdk import DAG

    from ml.errors import SpecError

    invalid = _specs()[1]
    if not invalid:
        return
    message = (f"{len(invalid)} dataset spec(s) invalid, so their DAGs are not loaded (the other datasets' DAGs "
               "are): " + "; ".join(f"{kind}_{name}: {error}" for name, error in sorted(invalid.items())))

    class InvalidSpecs(DAG):
        def validate(self) -> None:
            raise SpecError(message)

    with InvalidSpecs(dag_id=f"{kind}_invalid_specs", schedule=None, start_date=START_DATE):
        pass


def cron(expression: str):
    """A data-interval cron timetable, or None when cron schedules are switched off (settings.cron_schedules)."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable(expression, timezone="UTC") if settings.cron_schedules() else None


def cron_trigger(expression: str):
    """A cron trigger timetable (the logical date is the moment it fires, e.g. Monday 06:00), or None when cron
    schedules are switched off (settings.cron_schedules)."""
    from airflow.timetables.trigger import CronTriggerTimetable

    return CronTriggerTimetable(expression, timezone="UTC") if settings.cron_schedules() else None


def cron_or_asset(expression: str, asset: object):
    """Scheduled by a cron timetable or by an Asset's events, whichever comes first; by the Asset alone when
    cron schedules are switched off (settings.cron_schedules)."""
    from airflow.sdk import AssetOrTimeSchedule

    timetable = cron(expression)
    return AssetOrTimeSchedule(timetable=timetable, assets=[asset]) if timetable is not None else [asset]


def tags(*extra: str) -> list[str]:
    return ["riskops", *extra]


def riskops_dag(dag_id: str, description: str, schedule: object, tags_: list[str], doc_md: str | None,
                **kwargs: object):
    """A DAG with the platform's policy: start date, no catch-up, default args (retries, and a mail to the
    operations address when a task fails for good), tags and docs."""
    from airflow.sdk import DAG

    from riskops_airflow.notify import failure_notifier

    return DAG(dag_id=dag_id, description=description, schedule=schedule, start_date=START_DATE, catchup=False,
               default_args={**DEFAULT_ARGS, "on_failure_callback": failure_notifier()}, tags=tags(*tags_),
               doc_md=doc_md, **kwargs)
