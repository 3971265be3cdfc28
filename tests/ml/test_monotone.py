"""Monotone constraints: the spec key is refused where it cannot apply, training passes it to XGBoost, and the
trained model's partial-dependence line goes the spec's way (it does not without the constraint); the curve is
checked against scikit-learn's partial_dependence on the same predictions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ml.config import TrainConfig
from ml.model.partial_dependence import direction_holds, feature_grid, monotone_checks, partial_dependence
from ml.model.train import fit, monotone_constraints
from ml.spec import DatasetSpec

ID = {"name": "id", "type": "int", "role": "id"}
LABEL = {"column": "y", "maturity_lag_days": 0}
CONFIG = TrainConfig(window_days=30, valid_days=4, test_days=7, num_boost_round=200, early_stopping_rounds=200)


def spec(*columns: dict, **sections: object) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "tiny", "columns": [ID, *columns], "label": LABEL, **sections})


@pytest.mark.parametrize(("column", "message"), [
    ({"name": "s", "type": "string", "monotone": "increasing"}, "column 's': monotone is for numeric model features "
                                                                "(type int or float, role feature or exposure), not "
                                                                "a string column with role feature"),
    ({"name": "c", "type": "category", "categories": ["a"], "monotone": "decreasing"}, "not a category column"),
    ({"name": "n", "type": "float", "role": "ignore", "monotone": "increasing"}, "float column with role ignore"),
    ({"name": "n", "type": "float", "monotone": "up"}, "'increasing' or 'decreasing'"),
])
def test_monotone_is_refused_where_it_cannot_apply(column, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        spec(column)


def test_a_protected_attribute_cannot_be_monotone():
    with pytest.raises(ValidationError, match="fairness attribute 'age' is protected, so it is no model input and "
                                              "cannot be monotone"):
        spec({"name": "age", "type": "int", "monotone": "decreasing"},
             fairness={"attributes": [{"column": "age", "kind": "protected", "reference": "young",
                                       "bands": [{"name": "young", "below": 40}, {"name": "old"}]}]})


def test_xgboost_gets_one_sign_per_model_input_in_order():
    s = spec({"name": "a", "type": "float"}, {"name": "b", "type": "int", "monotone": "decreasing"},
             {"name": "c", "type": "float", "role": "exposure", "monotone": "increasing"})
    assert s.monotone == {"b": "decreasing", "c": "increasing"}
    assert monotone_constraints(s, ("a", "b", "c")) == {"monotone_constraints": "(0,-1,1)"}
    assert monotone_constraints(spec({"name": "a", "type": "float"}), ("a",)) == {}


def _parts(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Rows whose default rate is U-shaped in `u` (falls, then rises) and rises with `x`."""
    rng = np.random.default_rng(seed)
    n = 12_000
    u, x = rng.uniform(0, 1, n), rng.normal(0, 1, n)
    logit = -2.0 + 4.0 * (u - 0.4) ** 2 * 6 - 3.0 * u + 0.8 * x
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"id": np.arange(n), "u": u, "x": x, "label": y})
    return {"train": frame.iloc[:8000], "valid": frame.iloc[8000:10000], "test": frame.iloc[10000:]}


def test_the_trained_model_honours_the_constraint_and_does_not_without_it():
    parts = _parts()
    free, _ = fit(spec({"name": "u", "type": "float"}, {"name": "x", "type": "float"}), parts, CONFIG)
    tied_spec = spec({"name": "u", "type": "float", "monotone": "increasing"}, {"name": "x", "type": "float"})
    tied, facts = fit(tied_spec, parts, CONFIG)
    assert facts["params"]["monotone_constraints"] == "(1,0)"
    dev = pd.concat([parts["train"], parts["valid"]])
    for model, holds in ((free, False), (tied, True)):
        features = model.pipeline.transform(dev)
        [check] = monotone_checks(model.pd, features, tied_spec.monotone, seed=1)
        assert check.feature == "u" and check.direction == "increasing" and len(check.grid) == 20
        assert check.holds is holds
    # the constrained PD rises along every single row, not only on average
    features = tied.pipeline.transform(parts["test"].head(200))
    grid = feature_grid(features["u"])
    per_row = np.stack([tied.pd(features.assign(u=np.float32(v))) for v in grid], axis=1)
    assert (np.diff(per_row, axis=1) >= 0).all()


def _fitted(predict):  # type: ignore[no-untyped-def]
    """The trained model as scikit-learn sees a fitted classifier (predict_proba over the two inputs)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Fitted(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        def fit(self, *_):  # type: ignore[no-untyped-def]
            return self

        def predict_proba(self, x):  # type: ignore[no-untyped-def]
            p = predict(pd.DataFrame(np.asarray(x, dtype=np.float32), columns=["u", "x"]))
            return np.column_stack([1 - p, p])

    estimator = Fitted()
    estimator.classes_ = np.array([0, 1])
    return estimator


def test_the_curve_equals_scikit_learns_partial_dependence():
    from sklearn.inspection import partial_dependence as reference

    parts = _parts(seed=3)
    model, _ = fit(spec({"name": "u", "type": "float", "monotone": "increasing"}, {"name": "x", "type": "float"}),
                   parts, CONFIG)
    features = model.pipeline.transform(parts["valid"])
    for name in ("u", "x"):
        grid = feature_grid(features[name], points=12)
        ours = partial_dependence(model.pd, features, name, grid)
        theirs = reference(_fitted(model.pd), features.to_numpy(), [["u", "x"].index(name)], kind="average",
                           method="brute", response_method="predict_proba", custom_values={
                               ["u", "x"].index(name): grid.astype(np.float32)})
        np.testing.assert_allclose(theirs["grid_values"][0], grid.astype(np.float32))
        np.testing.assert_allclose(ours, theirs["average"][0], rtol=1e-6)


def test_direction_and_grid():
    assert direction_holds(np.array([0.1, 0.1, 0.3]), "increasing")
    assert not direction_holds(np.array([0.1, 0.3, 0.2]), "increasing")
    assert direction_holds(np.array([0.3, 0.2, 0.2]), "decreasing")
    assert feature_grid(pd.Series([3, 1, 1, None, 2])).tolist() == [1.0, 2.0, 3.0]
    assert len(feature_grid(pd.Series(np.arange(1000.0)))) == 20
