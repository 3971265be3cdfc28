"""On no "today" can a scheduled run get in the way of the runs the embedded demo drives: with the demo's
environment no DAG has a time-based schedule; with the production environment the same DAGs do schedule
(so the check below can fail), and on the demo test's moved date a scheduled retraining would have found
enough data to train a candidate and wait for an approver: the situation of the onboarding issue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest
import time_machine

from demo.airflow_runtime import airflow_env
from demo.run import WINDOWS
from ml.config import TrainConfig
from ml.spec import get_spec
from tests.test_demo import DAYS, TODAY

REPO = Path(__file__).resolve().parents[2]
# month ends and starts, a leap day, the demo test's own date, and one day a week over two years
TODAYS = sorted({TODAY,
                 *(dt.datetime(2026, 1, 5, 6, tzinfo=dt.timezone.utc) + dt.timedelta(days=7 * i) for i in range(105)),
                 *(dt.datetime(y, m, 1, 0, 30, tzinfo=dt.timezone.utc) for y in (2026, 2027) for m in range(1, 13)),
                 dt.datetime(2028, 2, 29, 12, tzinfo=dt.timezone.utc)})


def _dags(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    for key in ("RISKOPS_CRON_SCHEDULES",):
        monkeypatch.setenv(key, env.get(key, "on"))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _scheduled(dag, today: dt.datetime):  # the run a scheduler would create now, unpausing the DAG
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    with time_machine.travel(today, tick=False):
        return coerce_to_core_timetable(dag.timetable).next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=pendulum.instance(dag.start_date), latest=None, catchup=False))


def test_the_demo_environment_schedules_nothing_on_any_date(monkeypatch, tmp_path):
    dags = _dags(monkeypatch, airflow_env(tmp_path, 8080))
    assert len(dags) >= 9
    for today in TODAYS:
        assert {dag_id: _scheduled(dag, today) for dag_id, dag in dags.items()} == dict.fromkeys(dags), today


def test_production_schedules_and_the_demo_test_date_would_train(monkeypatch):
    dags = _dags(monkeypatch, {})
    info = _scheduled(dags["retrain_give_me_some_credit"], TODAY)
    as_of = info.logical_date.date()
    assert as_of == dt.date(2026, 10, 1)
    assert _scheduled(dags["preprocess_give_me_some_credit"], TODAY).logical_date.date() == dt.date(2026, 11, 21)
    # the scheduled run's default development window (as_of - lag - window .. as_of - lag) over the demo's days
    config, lag = TrainConfig(), get_spec(REPO / "datasets", "give_me_some_credit").label.maturity_lag_days
    last = as_of - dt.timedelta(days=lag)
    first = last - dt.timedelta(days=config.window_days - 1)
    start = WINDOWS["give_me_some_credit"]
    demo_days = {start + dt.timedelta(days=i) for i in range(DAYS)}
    found = [d for d in demo_days if first <= d <= last]
    assert len(found) >= config.valid_days + config.test_days + 1  # enough to train, mail and wait
