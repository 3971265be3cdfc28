"""Fixtures of the domain tests (the real MLflow store, `mlflow_store`, is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.spec import DatasetSpec, get_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cards_spec() -> DatasetSpec:
    return get_spec(REPO / "datasets", "card_transactions")

