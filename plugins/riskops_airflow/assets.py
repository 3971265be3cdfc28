"""Assets the DAGs produce and consume (data-aware scheduling between stages)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from airflow.sdk import Asset, Metadata


def curated(dataset: str) -> Asset:
    """A dataset's curated daily partitions; updated by each successful preprocess run."""
    return Asset(name=f"curated/{dataset}", uri=f"riskops://curated/{dataset}", group="riskops")


def scores(dataset: str) -> Asset:
    """A dataset's committed nightly scores; updated by each score run, consumed by monitoring."""
    return Asset(name=f"scores/{dataset}", uri=f"riskops://scores/{dataset}", group="riskops")


def curated_event(dataset: str, day: str) -> dict[str, Any]:
    """The extra of a curated/<dataset> event: the day and its row accounting, from the preprocess manifest."""
    import datetime as dt

    from ml.data.preprocess import read_manifest
    from riskops_airflow.stores import storage

    manifest = read_manifest(storage(), dataset, dt.date.fromisoformat(day))
    if manifest is None:
        raise RuntimeError(f"no preprocess manifest for {dataset} on {day}: the day is not complete")
    return {"date": day, **manifest.model_dump(include={"rows_in", "rows_clean", "rows_quarantined", "input_sha256"})}


def publish_curated(dataset: str, business_date: str) -> Callable[..., Iterator[Metadata]]:
    """The preprocess task's post-execute hook: once the day is complete (the step succeeded), the event of
    curated/<dataset> carries the day and its row accounting (`business_date` is a template of the day)."""
    def publish(context: Any, result: Any = None) -> Iterator[Metadata]:
        day = context["task"].render_template(business_date, context)
        yield Metadata(curated(dataset), extra=curated_event(dataset, day))
    return publish


def drift(dataset: str) -> Asset:
    """A drift that calls for retraining a dataset's model; emitted by the stability DAG, consumed by retraining."""
    return Asset(name=f"drift/{dataset}", uri=f"riskops://drift/{dataset}", group="riskops")
