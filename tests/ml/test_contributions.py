"""ml.scoring.contributions: the Saabas booster's contributions against XGBoost's own approx_contribs, on
seeded synthetic models with missing values, categorical splits, uneven trees and single-leaf trees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.boosting import xgb
from ml.scoring.contributions import saabas_booster


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n)).astype(np.float32),
        "age": rng.integers(18, 90, n).astype(np.float32),
        "flag": (rng.random(n) < 0.3).astype(np.float32),
        "shop": pd.Categorical(rng.choice(["a", "b", "c", "d", "e"], n)),
        "channel": pd.Categorical(np.where(rng.random(n) < 0.05, None, rng.choice(["web", "pos"], n))),
    })
    logit = (0.02 * np.nan_to_num(x["amount"].to_numpy(), nan=30.0) - 0.03 * x["age"].to_numpy() + x["flag"]
             + (x["shop"] == "c") - 0.5 * (x["channel"] == "web") - 0.5)
    return x, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def _xgboost_contribs(booster: xgb.Booster, x: pd.DataFrame) -> np.ndarray:
    return booster.predict(xgb.DMatrix(x, enable_categorical=True), pred_contribs=True, approx_contribs=True)[:, :-1]


@pytest.mark.parametrize("seed,params", [
    (0, {"max_depth": 4}),
    (1, {"max_depth": 8, "min_child_weight": 5}),
    (2, {"max_depth": 3, "gamma": 40.0}),  # a large split penalty leaves some trees a single leaf
    (3, {"grow_policy": "lossguide", "max_leaves": 11, "max_depth": 0, "max_cat_to_onehot": 8}),
])
def test_saabas_booster_gives_xgboosts_approx_contribs_bit_for_bit(seed: int, params: dict) -> None:
    x, y = _data(3_000, seed)
    booster = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "eta": 0.3, "nthread": 1, **params},
                        xgb.DMatrix(x, y, enable_categorical=True), num_boost_round=25)
    saabas = saabas_booster(booster)
    assert saabas is not None
    rows, _ = _data(2_000, 100 + seed)  # unseen rows, missing values and both kinds of split included
    got = saabas.inplace_predict(rows, predict_type="margin")
    expected = _xgboost_contribs(booster, rows)
    assert got.dtype == expected.dtype == np.float32
    assert np.array_equal(got, expected)


def test_models_it_does_not_cover_get_none() -> None:
    x, y = _data(1_000, 7)
    data = xgb.DMatrix(x, y, enable_categorical=True)
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic", "rate_drop": 0.2}, data, 5)
    forest = xgb.train({"objective": "binary:logistic", "num_parallel_tree": 3, "subsample": 0.8}, data, 3)
    assert saabas_booster(dart) is None and saabas_booster(forest) is None
