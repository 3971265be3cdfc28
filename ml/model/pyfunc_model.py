"""MLflow "model from code": the pyfunc wrapper of a saved RiskModel folder (no pickled Python objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from ml.model.riskmodel import RiskModel


class RiskModelPyfunc(PythonModel):
    """Loads the RiskModel folder logged as the `model_dir` artifact; predict returns the column `pd`."""

    def load_context(self, context: Any) -> None:
        self.model = RiskModel.load(Path(context.artifacts["model_dir"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return pd.DataFrame({"pd": self.model.predict_proba(model_input)})


mlflow.models.set_model(RiskModelPyfunc())
