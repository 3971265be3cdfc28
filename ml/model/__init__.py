"""Model development and the registry: features, training, the saved model, MLflow registry, retraining.

`from ml.model import RiskModel` is what models logged before the `ml.model` package existed run when
MLflow loads them as pyfunc (their `pyfunc_model.py` is stored with the model); it stays importable,
lazily, so importing the registry alone does not load XGBoost.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "RiskModel":
        from ml.model.riskmodel import RiskModel

        return RiskModel
    raise AttributeError(f"module 'ml.model' has no attribute {name!r}")
