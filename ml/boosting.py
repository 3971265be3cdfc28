"""XGBoost, imported without scikit-learn.

`xgboost.compat` imports scikit-learn (and with it most of scipy) only to offer its scikit-learn wrappers,
which riskops never uses; that import is two thirds of a scoring task's start-up (~1.2 s of ~1.9 s here).
Importing xgboost through this module hides scikit-learn from that one import, so xgboost's native API loads
alone; scikit-learn stays importable afterwards for whoever needs it (metrics, calibration maps). Where
scikit-learn was imported already, nothing is hidden.
"""

from __future__ import annotations

import sys

if "xgboost" not in sys.modules and "sklearn" not in sys.modules:
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` raise ImportError
    try:
        import xgboost as xgb
    finally:
        del sys.modules["sklearn"]
else:
    import xgboost as xgb

__all__ = ["xgb"]
