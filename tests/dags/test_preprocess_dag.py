"""Real Airflow runs (dag.test) of the preprocess DAGs over a few replayed days of every dataset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ml import layout
from ml.data.replay import replay
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]

WINDOWS = {
    "give_me_some_credit": (dt.date(2026, 9, 1), 30, 3),  # spread over 30 days, first 3 processed
    "bank_marketing": (dt.date(2008, 5, 5), 3, 3),
    "card_transactions": (dt.date(2026, 9, 1), 3, 3),
}


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "preprocess.py"))
    return bag.dags[dag_id]


@pytest.mark.parametrize("dataset", sorted(WINDOWS))
def test_preprocess_dag_runs_each_day(dataset, airflow_db, data_root):
    from airflow.utils.state import DagRunState

    spec = get_spec(REPO / "datasets", dataset)
    storage = Storage(str(data_root))
    start, landed_days, run_days = WINDOWS[dataset]
    landed = {s["date"]: s["rows"] for s in replay(storage, spec, start, start + dt.timedelta(days=landed_days - 1))}
    dag = _dag(f"preprocess_{dataset}")
    for i in range(run_days):
        day = start + dt.timedelta(days=i)
        run = dag.test(logical_date=dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc))
        assert run.state == DagRunState.SUCCESS
        manifest = storage.read_json(layout.preprocess_manifest(dataset, day))
        assert manifest["rows_in"] == landed[day.isoformat()] > 0
        assert manifest["rows_in"] == manifest["rows_clean"] + manifest["rows_quarantined"]
        curated = storage.read_parquet(manifest["outputs"]["curated"])
        quarantine = storage.read_parquet(manifest["outputs"]["quarantine"])
        assert len(curated) == manifest["rows_clean"] and len(quarantine) == manifest["rows_quarantined"]
        assert (curated["business_date"] == pd.Timestamp(day)).all()
        assert curated[spec.id_column].is_unique
        # the run published the day, with its row accounting, for the score DAG's planner
        (event,) = _curated_events(dataset, run.run_id)
        assert event == {"date": day.isoformat(), **{k: manifest[k] for k in (
            "rows_in", "rows_clean", "rows_quarantined", "input_sha256")}}


def _curated_events(dataset: str, run_id: str) -> list[dict]:
    """The extras of the curated/<dataset> Asset events a preprocess run emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                    .where(AssetModel.uri == f"riskops://curated/{dataset}",
                                           AssetEvent.source_run_id == run_id)))


def test_missing_batch_times_out_in_the_sensor_without_output(airflow_db, data_root):
    from airflow.utils.state import DagRunState, TaskInstanceState

    dag = _dag("preprocess_give_me_some_credit")
    sensor = dag.get_task("wait_for_batch")
    sensor.timeout, sensor.poke_interval = 3, 1  # production waits 20 hours
    for task in dag.tasks:
        task.retries = 0
    run = dag.test(logical_date=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["wait_for_batch"] == TaskInstanceState.FAILED
    assert states["preprocess"] == TaskInstanceState.UPSTREAM_FAILED
    assert not (data_root / "manifests").exists()


def _run(dag, day: dt.date):
    return dag.test(logical_date=dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc))


def test_a_day_outside_the_calendar_is_skipped_unless_a_batch_landed(airflow_db, data_root):
    from airflow.utils.state import DagRunState, TaskInstanceState

    dag = _dag("preprocess_bank_marketing")
    for task in dag.tasks:
        task.retries = 0
    saturday = dt.date(2008, 5, 10)
    run = _run(dag, saturday)
    assert run.state == DagRunState.SUCCESS
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == dict.fromkeys(
        ("wait_for_batch", "preprocess"), TaskInstanceState.SKIPPED)
    assert _curated_events("bank_marketing", run.run_id) == []  # nothing published for a skipped day
    Storage(str(data_root)).write_bytes(f"{layout.landing('bank_marketing', saturday)}/late.csv", b"client_id\n1\n")
    run = _run(dag, saturday)  # rows landed on a day without batches are not silently left out
    assert run.state == DagRunState.FAILED
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["wait_for_batch"] == TaskInstanceState.FAILED
    assert not (data_root / "manifests").exists()


def test_the_sensor_waits_for_the_completion_marker(airflow_db, data_root, monkeypatch):
    from airflow.utils.state import DagRunState

    monkeypatch.setenv("RISKOPS_SPECS", str(REPO / "tests" / "fixtures" / "loans"))
    storage, day = Storage(str(data_root)), dt.date(2026, 9, 1)
    spec = get_spec(REPO / "tests" / "fixtures" / "loans", "loans")
    replay(storage, spec, day, day)
    control = f"{layout.landing('loans', day)}/_CONTROL.json"
    marker = storage.read_bytes(control)
    storage.delete(control)  # the files are there, the control file is not yet: the batch is incomplete
    dag = _dag("preprocess_loans")
    sensor = dag.get_task("wait_for_batch")
    sensor.timeout, sensor.poke_interval = 3, 1
    for task in dag.tasks:
        task.retries = 0
    assert _run(dag, day).state == DagRunState.FAILED
    assert not (data_root / "manifests").exists()
    storage.write_bytes(control, marker)
    assert _run(dag, day).state == DagRunState.SUCCESS
    assert storage.read_json(layout.preprocess_manifest("loans", day))["rows_in"] == 40
