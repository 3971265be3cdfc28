"""Policy every riskops DAG follows: owner, retries, tags, and the datasets that get DAGs."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pendulum

OWNER = "risk-platform"
# Before any replayed history, so backfills over historic windows (bank data starts in 2008) are allowed.
START_DATE = pendulum.datetime(2000, 1, 1, tz="UTC")

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def specs_dir() -> Path:
    """Where dataset specs live; same default as ml.config, without importing ml at parse time."""
    default = Path(__file__).resolve().parents[2] / "datasets"
    return Path(os.environ.get("RISKOPS_SPECS", default))


def dataset_names() -> list[str]:
    """One name per spec file; a file listing only, so parsing DAGs stays cheap and side-effect free."""
    return sorted(p.stem for p in specs_dir().glob("*.yaml"))


def tags(*extra: str) -> list[str]:
    return ["riskops", *extra]


def riskops_dag(dag_id: str, description: str, schedule: object, tags_: list[str], doc_md: str | None,
                **kwargs: object):  # type: ignore[no-untyped-def]
    """A DAG with the platform's policy: start date, no catch-up, default args, tags and docs."""
    from airflow.sdk import DAG

    return DAG(dag_id=dag_id, description=description, schedule=schedule, start_date=START_DATE, catchup=False,
               default_args=DEFAULT_ARGS, tags=tags(*tags_), doc_md=doc_md, **kwargs)
