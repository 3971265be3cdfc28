"""The scorecard challenger: WoE bins (monotone where the spec says so, missing values a bin of their own,
categories as bins), its AUC as scikit-learn's roc_auc_score computes it, and a points table whose points add up
to the policy's score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ml.model import scorecard
from ml.model.evaluate import evaluate
from ml.rating import to_score
from ml.spec import Policy


def _sample(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Utilisation raises the default rate (with a dip the bins must pool), age lowers it, a third of incomes
    are missing (and missing is riskier), a channel category matters."""
    rng = np.random.default_rng(seed)
    util, age = rng.uniform(0, 1.5, n), rng.integers(18, 80, n).astype(float)
    income = np.where(rng.uniform(size=n) < 0.3, np.nan, rng.lognormal(8, 0.5, n))
    channel = rng.choice(["branch", "online", "broker"], n)
    logit = (-3 + 2.5 * util - 0.6 * np.sin(8 * util) - 0.03 * (age - 40) + 0.8 * np.isnan(income)
             + 0.7 * (channel == "broker"))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"util": util.astype(np.float32), "age": age.astype(np.float32),
                          "income": income.astype(np.float32),
                          "channel": pd.Categorical(channel, categories=["branch", "broker", "online"])})
    return frame, y


def test_the_auc_is_scikit_learns_and_the_bins_follow_the_spec():
    x, y = _sample(20_000, seed=11)
    card = scorecard.fit(x, y, monotone={"util": "increasing", "age": "decreasing"})
    test_x, test_y = _sample(5_000, seed=12)
    p = card.predict_proba(test_x)
    assert evaluate(test_y, p, 0.2).metrics["auc"] == pytest.approx(roc_auc_score(test_y, p), abs=1e-12)
    assert roc_auc_score(test_y, p) > 0.7
    bins = {b.feature: b for b in card.bins}
    assert np.all(np.diff(bins["util"].woe[:-1]) >= 0) and np.all(np.diff(bins["age"].woe[:-1]) <= 0)
    free = {b.feature: b for b in scorecard.fit(x, y).bins}
    assert len(free["util"].edges) > len(bins["util"].edges)  # the dip was pooled only under the constraint
    assert bins["income"].woe[-1] > max(bins["income"].woe[:-1])  # missing income is a riskier bin of its own
    assert bins["channel"].labels() == ["branch", "broker", "online", "missing"]
    assert bins["util"].labels()[0].startswith("< ") and bins["util"].labels()[-2].startswith(">= ")


def test_the_points_add_up_to_the_policys_score():
    x, y = _sample(10_000, seed=5)
    card = scorecard.fit(x, y)
    policy = Policy(base_score=600, base_odds=50, pdo=20)
    table = pd.DataFrame(card.points(policy))
    assert list(table.columns) == ["feature", "bin", "woe", "points"]
    assert set(table["feature"]) == {"util", "age", "income", "channel"}
    rows = x.head(300)
    total = np.zeros(len(rows))
    for b in card.bins:
        points = table[table["feature"] == b.feature]["points"].to_numpy()
        total += points[b.index(rows[b.feature])]
    np.testing.assert_allclose(total, to_score(card.predict_proba(rows), policy), atol=0.51)
