"""ml.model.calibration: the stored maps reproduce scikit-learn's fitted estimators; bad maps are refused."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ml.model import calibration


def raw_sample(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Over-confident raw PDs (log-odds doubled and shifted, as heavy weights do) and outcomes."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.5, 1.0, 5000)
    y = (rng.uniform(size=len(z)) < 1 / (1 + np.exp(-z))).astype(int)
    return 1 / (1 + np.exp(-(2 * z + 3))), y


def test_platt_equals_sklearn_logistic_regression_on_the_log_odds() -> None:
    raw, y = raw_sample()
    cal = calibration.fit(raw, y, "platt")
    logit = np.log(raw / (1 - raw))[:, None]
    reference = LogisticRegression(C=np.inf).fit(logit, y)
    fresh, _ = raw_sample(1)
    np.testing.assert_allclose(calibration.apply(cal, fresh),
                               reference.predict_proba(np.log(fresh / (1 - fresh))[:, None])[:, 1], rtol=1e-9)
    # an unpenalised logistic fit reproduces the sample's default rate exactly
    assert calibration.apply(cal, raw).mean() == pytest.approx(y.mean(), abs=1e-4)
    assert raw.mean() > 2 * y.mean()  # ... which the raw PDs were far from


def test_isotonic_equals_sklearn_isotonic_regression() -> None:
    raw, y = raw_sample(2)
    cal = calibration.fit(raw, y, "isotonic")
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, y)
    fresh = np.r_[raw_sample(3)[0], 0.0, 1.0]
    np.testing.assert_allclose(calibration.apply(cal, fresh), reference.predict(fresh), rtol=1e-12)


@pytest.mark.parametrize("bad", [
    None, {"method": "magic"}, {"method": "platt", "slope": float("nan"), "intercept": 0.0},
    {"method": "platt", "slope": "1"}, {"method": "isotonic", "x": [0.1, 0.2], "y": [0.5, 0.4]},
    {"method": "isotonic", "x": [0.1], "y": [0.5, 0.6]}, {"method": "isotonic", "x": "ab", "y": [1]},
])
def test_stored_maps_are_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="calibration.json"):
        calibration.check(bad)
