"""Fixtures for tests that need a real MLflow store (SQLite in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from ml.data.spec import DatasetSpec, get_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setenv("RISKOPS_MLFLOW_ARTIFACTS", (tmp_path / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # runs started without an experiment would otherwise put artifacts in ./mlruns
    experiment = mlflow.MlflowClient().create_experiment("tests", artifact_location=(tmp_path / "runs").as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    yield uri
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture(scope="session")
def cards_spec() -> DatasetSpec:
    return get_spec(REPO / "datasets", "card_transactions")

