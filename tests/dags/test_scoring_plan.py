"""The score DAG's plan refuses bad params (a version that is not one, an output scoring cannot write) when
the run starts, before any MLflow call and before any scoring task."""

from __future__ import annotations

import pytest

from ml.errors import RiskopsError
from tests.helpers import free_port


@pytest.fixture
def unreachable_mlflow(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # asking it would fail


@pytest.mark.parametrize(("params", "message"), [
    ({"date": "2026-09-01", "model_version": "abc"}, "'abc' is not a model version"),
    ({"date": "2026-09-01", "model_version": "3; rm -rf /"}, "is not a model version"),
    ({"input": "list.csv", "output": "x.sh", "model_version": "1"}, "--output must end in .parquet or .csv"),
    ({"input": "list.csv", "output": "list.csv", "model_version": "1"}, "--output must not be the --input file"),
    ({"input": "../list.csv", "model_version": "1"}, "on-demand files are names under ondemand/"),
])
def test_the_plan_refuses_bad_params(params, message, unreachable_mlflow):
    from riskops_airflow.scoring_plan import plan_scoring

    with pytest.raises(RiskopsError, match=message):
        plan_scoring("card_transactions", params, {}, "manual__1")


def test_good_params_plan_the_commands(unreachable_mlflow):
    from riskops_airflow.scoring_plan import plan_scoring

    plan = plan_scoring("card_transactions", {"input": "2026-11/list.csv", "output": "2026-11/out.csv",
                                              "model_version": "12"}, {}, "manual__1")
    (command,) = plan["commits"]
    assert plan["version"] == "12" and "--model-version 12" in command and "--output 2026-11/out.csv" in command
