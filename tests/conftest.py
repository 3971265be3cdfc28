"""Test environment: a private AIRFLOW_HOME with a real SQLite metadata DB, and a fresh data root per test.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports airflow.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="riskops-airflow-"))

os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "RISKOPS_SPECS": str(REPO / "datasets"),
    # nothing a test runs may write into the project's own var/ (the demo's home)
    "RISKOPS_HOME": tempfile.mkdtemp(prefix="riskops-home-"),
    "RISKOPS_TASK_MODE": "local",
})
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # INFO shows task subprocess output


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite) for real DAG runs."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root used by the code under test and by task subprocesses (they inherit the env)."""
    root = tmp_path / "data"
    monkeypatch.setenv("RISKOPS_DATA", str(root))
    return root


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real MLflow store (SQLite in a temporary folder) as the current tracking and registry URI."""
    import mlflow

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


DRIFT_START = dt.date(2026, 9, 20)  # the synthetic cards' drift (datasets/card_transactions.yaml)
CARDS_START, CARDS_DAYS = dt.date(2026, 9, 14), 12  # a Monday; the last 6 days drift


@pytest.fixture(scope="session")
def scored_cards(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Card transactions of 12 days around the synthetic drift, a champion (version 1) trained on the days
    before it, and every day scored with it: the world stability monitoring works on. Returns the paths;
    `cards_env` points the code under test at them."""
    import mlflow

    from ml.config import TrainConfig
    from ml.governance import registry
    from ml.retraining.retrain import retrain
    from ml.scoring import score
    from ml.spec import get_spec
    from ml.storage import Storage
    from tests.helpers import approve, land_and_preprocess

    home = tmp_path_factory.mktemp("cards-world")
    world = {"data": home / "data", "tracking": f"sqlite:///{home / 'mlflow.db'}", "artifacts": (home / "art").as_uri()}
    spec = get_spec(REPO / "datasets", "card_transactions")
    storage = Storage(str(world["data"]))
    land_and_preprocess(storage, spec, CARDS_START, CARDS_DAYS)
    before = (DRIFT_START - CARDS_START).days
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _cards_env(world).items():
            mp.setenv(key, value)
        mlflow.set_tracking_uri(world["tracking"])
        mlflow.set_registry_uri(world["tracking"])
        try:
            config = TrainConfig(window_days=before, valid_days=1, test_days=2, num_boost_round=100,
                                 early_stopping_rounds=10)
            summary = retrain(storage, spec, DRIFT_START + dt.timedelta(days=spec.label.maturity_lag_days - 1), config,
                              artifact_root=world["artifacts"])
            approve(mlflow.MlflowClient(), registry.model_name(spec.name), summary.version)
            pinned = score.resolve_model(spec.name)
            for i in range(CARDS_DAYS):
                score.score_day(storage, spec, CARDS_START + dt.timedelta(days=i), pinned)
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
    return world


def _cards_env(world: dict) -> dict[str, str]:
    return {"RISKOPS_DATA": str(world["data"]), "MLFLOW_TRACKING_URI": world["tracking"],
            "MLFLOW_REGISTRY_URI": world["tracking"], "RISKOPS_MLFLOW_ARTIFACTS": world["artifacts"]}


@pytest.fixture
def cards_env(scored_cards: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The scored cards world for one test, with a fresh history (SQLite) of its own."""
    import mlflow

    for key, value in _cards_env(scored_cards).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RISKOPS_HISTORY_URL", f"sqlite:///{tmp_path / 'history.db'}")
    mlflow.set_tracking_uri(scored_cards["tracking"])
    mlflow.set_registry_uri(scored_cards["tracking"])
    yield {**scored_cards, "history": f"sqlite:///{tmp_path / 'history.db'}"}
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
