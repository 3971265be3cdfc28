"""Real Airflow runs (dag.test) of the score DAG: pinned champion, mapped partitions, atomic commit."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from ml import layout
from ml.config import TrainConfig
from ml.governance import registry
from ml.retraining.retrain import retrain
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import approve, land_and_preprocess

REPO = Path(__file__).resolve().parents[2]
START, DAYS = dt.date(2026, 9, 1), 16
DAY = START + dt.timedelta(days=DAYS - 1)
DAG_ID = "score_card_transactions"


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "score.py")).dags[DAG_ID]
    for task in dag.tasks:
        task.retries = 0  # dag.test() would wait out the production retry delay
    return dag


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Curated card days and an MLflow store; the champion is promoted by the tests that need one."""
    home = tmp_path_factory.mktemp("score")
    data, uri = home / "data", f"sqlite:///{home / 'mlflow.db'}"
    land_and_preprocess(Storage(str(data)), get_spec(REPO / "datasets", "card_transactions"), START, DAYS)
    return data, uri, home


@pytest.fixture
def env(world, monkeypatch, airflow_db):
    data, uri, home = world
    monkeypatch.setenv("RISKOPS_DATA", str(data))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setenv("RISKOPS_MLFLOW_ARTIFACTS", (home / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield Storage(str(data)), MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_no_champion_fails_in_plan_and_writes_nothing(env):
    from airflow.utils.state import DagRunState

    storage, _ = env
    run = _dag().test(logical_date=None, run_conf={"date": DAY.isoformat()})
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["plan"] == "failed"
    assert not storage.exists("scores")


def test_scores_a_day_and_partitioned_run_matches(env):
    from airflow.utils.state import DagRunState

    storage, client = env
    spec = get_spec(REPO / "datasets", "card_transactions")
    config = TrainConfig(window_days=DAYS, valid_days=3, test_days=4, num_boost_round=200, early_stopping_rounds=20)
    summary = retrain(storage, spec, DAY + dt.timedelta(days=45), config, os.environ["RISKOPS_MLFLOW_ARTIFACTS"])
    approve(client, registry.model_name("card_transactions"), summary.version, "Ada")
    version = summary.version

    dag = _dag()
    run = dag.test(logical_date=None, run_conf={"date": DAY.isoformat(), "partitions": 1})
    assert run.state == DagRunState.SUCCESS
    # one partition: the commit task scores and publishes the day alone
    assert [ti.map_index for ti in run.get_task_instances() if ti.task_id == "commit"] == [0]
    assert {ti.state for ti in run.get_task_instances() if ti.task_id == "score_partition"} == {"skipped"}
    key = layout.scores("card_transactions", DAY, version)
    single = storage.read_bytes(key)
    manifest = storage.read_json(layout.score_manifest("card_transactions", DAY, version))
    curated = storage.read_json(layout.preprocess_manifest("card_transactions", DAY))
    assert manifest["rows_scored"] == manifest["rows_in"] == curated["rows_clean"]
    assert manifest["model_version"] == version and manifest["run_id"] == summary.run_id

    run = dag.test(logical_date=None, run_conf={"date": DAY.isoformat(), "partitions": 3})
    assert run.state == DagRunState.SUCCESS
    assert sorted(ti.map_index for ti in run.get_task_instances() if ti.task_id == "score_partition") == [0, 1, 2]
    assert storage.read_bytes(key) == single  # same bytes as the single-partition run
    assert not storage.list_files(layout.scores_staging("card_transactions", DAY, version))

    # a window: its days in as few tasks of at most days_per_task days as possible, one model load each
    window = [DAY - dt.timedelta(days=i) for i in range(4, -1, -1)]
    # a DAG object keeps the params of its last in-process test run: a fresh one
    run = _dag().test(logical_date=None, run_conf={"start": window[0].isoformat(), "end": DAY.isoformat(),
                                                    "days_per_task": 2})
    assert run.state == DagRunState.SUCCESS
    assert sorted(ti.map_index for ti in run.get_task_instances() if ti.task_id == "commit") == [0, 1, 2]
    for day in window:
        manifest = storage.read_json(layout.score_manifest("card_transactions", day, version))
        assert manifest["run_key"] == run.run_id and manifest["rows_scored"] == manifest["rows_in"]
    assert storage.read_bytes(key) == single
