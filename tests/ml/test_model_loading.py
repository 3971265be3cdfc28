"""Registered models load as data with the installed code: models logged before the `ml.model` package
existed still load (pyfunc and data path), and loading one for scoring pulls in no reporting stack and no
scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ml.governance import registry

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "model_before_restructure"
NAME = "riskops-fixture"


@pytest.fixture
def expected() -> pd.DataFrame:
    return pd.read_csv(FIXTURE.parent / "model_before_restructure.expected.csv", dtype={"c": "string"})


@pytest.fixture
def registered(mlflow_store) -> str:
    """The fixture model (logged by the flat `ml/` layout) registered as a version of a fresh store."""
    client = MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(FIXTURE), "model")
    client.create_registered_model(NAME)
    return str(client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version)


def test_a_model_logged_by_the_previous_layout_loads_as_pyfunc(expected):
    # its stored pyfunc_model.py runs `from ml.model import RiskModel`, the flat layout's module
    assert "from ml.model import RiskModel" in (FIXTURE / "pyfunc_model.py").read_text()
    model = mlflow.pyfunc.load_model(str(FIXTURE))
    predicted = model.predict(expected[["x", "c"]])["pd"].to_numpy()
    assert np.allclose(predicted, expected["pd"].to_numpy(), rtol=0, atol=1e-7)


def test_a_model_logged_by_the_previous_layout_loads_as_data(registered, expected):
    model = registry.load_model(MlflowClient(), NAME, registered)
    assert np.allclose(model.predict_proba(expected[["x", "c"]]), expected["pd"].to_numpy(), rtol=0, atol=1e-7)
    assert model.threshold == 0.4 and set(model.reference_bins["features"]) == {"x", "c"}


def test_loading_a_pinned_model_imports_no_reporting_stack_nor_scikit_learn(registered, mlflow_store):
    # scikit-learn is a second at every scoring task's start: only training and calibration maps need it
    code = (f"import sys; from ml.scoring.score import PinnedModel; "
            f"m = PinnedModel({NAME!r}, {registered!r}, 'run').model; assert m.threshold == 0.4; "
            "print(sorted(k for k in ('reportlab', 'matplotlib', 'ml.retraining.retrain', 'sklearn') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
