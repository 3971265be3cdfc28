"""Assets the DAGs produce and consume (data-aware scheduling between stages)."""

from __future__ import annotations

from airflow.sdk import Asset


def curated(dataset: str) -> Asset:
    """A dataset's curated daily partitions; updated by each successful preprocess run."""
    return Asset(name=f"curated/{dataset}", uri=f"riskops://curated/{dataset}", group="riskops")


def scores(dataset: str) -> Asset:
    """A dataset's committed nightly scores; updated by each score run, consumed by monitoring."""
    return Asset(name=f"scores/{dataset}", uri=f"riskops://scores/{dataset}", group="riskops")
