"""ml.metrics: each statistic against an independent computation (scipy, sklearn, brute force or by hand)."""

from __future__ import annotations

import json
import math
from functools import partial
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from ml import metrics

# four rows worked by hand: bads score 0.35 and 0.8, goods 0.1 and 0.4
Y4 = np.array([0, 0, 1, 1])
P4 = np.array([0.1, 0.4, 0.35, 0.8])


def sample(n: int = 2000, seed: int = 0, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores with labels drawn from them (so p is calibrated); rounding adds ties."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.0, 4.0, size=n)
    if decimals is not None:
        p = np.round(p, decimals)
    y = (rng.uniform(size=n) < p).astype(int)
    return y, p


# --- ranking -------------------------------------------------------------------------------------------

def test_auc_and_gini_by_hand() -> None:
    # bad/good pairs ranked right: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong: (0.35<0.4) -> 3/4
    assert metrics.roc_auc(Y4, P4) == pytest.approx(0.75)
    assert metrics.gini(Y4, P4) == pytest.approx(0.5)


@pytest.mark.parametrize("decimals", [None, 2])
def test_auc_matches_mann_whitney(decimals: int | None) -> None:
    y, p = sample(seed=1, decimals=decimals)
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic  # ties count one half, as in AUC
    auc = u / ((y == 1).sum() * (y == 0).sum())
    assert metrics.roc_auc(y, p) == pytest.approx(auc, abs=1e-12)
    assert metrics.gini(y, p) == pytest.approx(2 * auc - 1, abs=1e-12)


def test_ks_by_hand() -> None:
    # CDFs at 0.1: bad 0, good 1/2; at 0.35: 1/2, 1/2; at 0.4: 1/2, 1; at 0.8: 1, 1
    assert metrics.ks_statistic(Y4, P4) == pytest.approx(0.5)
    curve = metrics.ks_curve(Y4, P4)
    assert curve["ks"] == pytest.approx(0.5)
    assert curve["ks_threshold"] == 0.1  # first of the two equal gaps


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_ks_matches_scipy(decimals: int | None) -> None:
    y, p = sample(seed=2, decimals=decimals)
    assert metrics.ks_statistic(y, p) == pytest.approx(stats.ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])),
                min_size=2, max_size=40).filter(lambda rows: len({r[0] for r in rows}) == 2))
def test_ks_matches_scipy_on_tied_samples(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    assert metrics.ks_statistic(y, p) == pytest.approx(stats.ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-12)


def test_ks_curve_is_the_chart_of_ks() -> None:
    y, p = sample(seed=3)
    curve = metrics.ks_curve(y, p, points=51)
    t = np.array(curve["threshold"])
    assert len(t) <= 52 and np.all(np.diff(t) > 0)
    assert t[0] == p.min() and t[-1] == p.max()
    bads, goods = p[y == 1], p[y == 0]
    np.testing.assert_allclose(curve["cum_bad"], [np.mean(bads <= x) for x in t])
    np.testing.assert_allclose(curve["cum_good"], [np.mean(goods <= x) for x in t])
    gaps = np.abs(np.array(curve["cum_bad"]) - np.array(curve["cum_good"]))
    assert gaps.max() == pytest.approx(curve["ks"]) and curve["ks"] == pytest.approx(metrics.ks_statistic(y, p))
    assert curve["ks_threshold"] in curve["threshold"]
    # flagging p > ks_threshold is the split whose bad/good capture rates differ by KS
    flagged = p > curve["ks_threshold"]
    assert abs(flagged[y == 1].mean() - flagged[y == 0].mean()) == pytest.approx(curve["ks"])


def test_roc_points_are_thinned_and_keep_the_area() -> None:
    y, p = sample(seed=4)
    pts = metrics.roc_points(y, p, max_points=50)
    fpr, tpr = np.array(pts["fpr"]), np.array(pts["tpr"])
    assert 2 <= len(fpr) <= 50 and len(fpr) == len(tpr)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(metrics.roc_auc(y, p), abs=0.01)
    full = metrics.roc_points(Y4, P4)
    # descending scores: 0.8 bad, 0.4 good, 0.35 bad, 0.1 good
    assert full == {"fpr": [0.0, 0.0, 0.5, 0.5, 1.0], "tpr": [0.0, 0.5, 0.5, 1.0, 1.0]}


# --- probability quality -------------------------------------------------------------------------------

def test_brier_and_log_loss_match_sklearn() -> None:
    y, p = sample(seed=5)
    p = np.clip(p, 0.01, 0.99)
    assert metrics.brier(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert metrics.log_loss(y, p) == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    # by hand: (0.9-1)^2, (0.2-0)^2 -> (0.01 + 0.04) / 2
    assert metrics.brier([1, 0], [0.9, 0.2]) == pytest.approx(0.025)


def test_log_loss_clips_certain_mistakes() -> None:
    # a bad scored 0 costs -ln(1e-15); a good scored 0 costs -ln(1 - 1e-15) ~ 0
    assert metrics.log_loss([1, 0], [0.0, 0.0]) == pytest.approx(-math.log(1e-15) / 2, rel=1e-9)
    assert metrics.log_loss([1, 0], [1.0, 0.0]) == pytest.approx(0.0, abs=1e-14)


def test_calibration_table_bands_are_sorted_deciles() -> None:
    rng = np.random.default_rng(6)
    p = rng.permutation(np.linspace(0.001, 0.999, 200))  # distinct scores: 10 bands of 20
    y = (rng.uniform(size=200) < p).astype(int)
    table = metrics.calibration_table(y, p, bands=10)
    order = np.argsort(p)
    assert [r["band"] for r in table] == list(range(1, 11))
    for row, chunk in zip(table, np.array_split(order, 10), strict=True):
        assert row["n"] == 20
        assert row["min_p"] == p[chunk].min() and row["max_p"] == p[chunk].max()
        assert row["mean_p"] == pytest.approx(p[chunk].mean())
        assert row["observed_rate"] == pytest.approx(y[chunk].mean())


def test_calibration_table_never_splits_tied_scores() -> None:
    y, p = sample(n=1000, seed=7)
    p[:600] = 0.05  # a block of ties larger than several deciles
    table = metrics.calibration_table(y, p, bands=10)
    assert sum(r["n"] for r in table) == 1000 and len(table) < 10
    assert all(a["max_p"] < b["min_p"] for a, b in pairwise(table))
    assert all(r["n"] > 0 for r in table)
    assert sum(r["observed_rate"] * r["n"] for r in table) == pytest.approx(y.sum())


def test_score_histogram_by_hand() -> None:
    y = [0, 0, 1, 1, 0]
    p = [0.0, 0.25, 0.5, 1.0, 0.75]
    h = metrics.score_histogram(y, p, bins=2)
    # [0, 0.5) and [0.5, 1]: goods 0.0, 0.25 | 0.75; bads - | 0.5, 1.0
    assert h == {"edges": [0.0, 0.5, 1.0], "goods": [2, 1], "bads": [0, 2]}
    y2, p2 = sample(seed=8)
    h2 = metrics.score_histogram(y2, p2)
    assert len(h2["edges"]) == 21 and sum(h2["goods"]) + sum(h2["bads"]) == len(y2)


# --- decisions -----------------------------------------------------------------------------------------

def test_classification_at_by_hand() -> None:
    # flag p >= 0.35: rows 0.4 (good), 0.35 (bad), 0.8 (bad) -> tp 2, fp 1, fn 0, tn 1
    r = metrics.classification_at(Y4, P4, 0.35, beta=2.0)
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (2, 1, 0, 1)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == 1.0 and r["flagged_rate"] == 0.75
    assert r["fbeta"] == pytest.approx(5 * (2 / 3) / (4 * (2 / 3) + 1))


@pytest.mark.parametrize("threshold", [0.05, 0.2, 0.5])
def test_classification_at_matches_sklearn(threshold: float) -> None:
    y, p = sample(seed=9, decimals=2)
    r = metrics.classification_at(y, p, threshold, beta=2.0)
    pred = (p >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (tp, fp, fn, tn)
    assert r["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert r["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert r["fbeta"] == pytest.approx(skm.fbeta_score(y, pred, beta=2.0, zero_division=0))
    assert r["flagged_rate"] == pytest.approx(pred.mean())


def test_classification_at_zero_division_is_zero() -> None:
    r = metrics.classification_at(Y4, P4, 0.9)  # nothing flagged
    assert (r["precision"], r["recall"], r["fbeta"], r["flagged_rate"]) == (0.0, 0.0, 0.0, 0.0)
    r = metrics.classification_at([0, 0], [0.5, 0.7], 0.6)  # no bads at all
    assert (r["recall"], r["fbeta"], r["fp"]) == (0.0, 0.0, 1)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_threshold_by_fbeta_matches_brute_force(beta: float) -> None:
    y, p = sample(n=400, seed=10, decimals=2)
    best = max(np.unique(p), key=lambda t: (skm.fbeta_score(y, (p >= t).astype(int), beta=beta), t))
    assert metrics.threshold_by_fbeta(y, p, beta=beta) == best


def test_threshold_by_fbeta_by_hand_and_without_bads() -> None:
    # t=0.35 flags both bads and one good: F2 = 5*(2/3)*1/(4*(2/3)+1) = 0.909, better than t=0.1 or t=0.8
    assert metrics.threshold_by_fbeta(Y4, P4, beta=2.0) == 0.35
    with pytest.raises(ValueError, match="at least one bad"):
        metrics.threshold_by_fbeta([0, 0], [0.1, 0.2])


def brute_cost(y: np.ndarray, p: np.ndarray, t: float, cost_fn: np.ndarray, cost_fp: np.ndarray) -> float:
    flag = p >= t
    return float(cost_fn[(y == 1) & ~flag].sum() + cost_fp[(y == 0) & flag].sum())


def test_threshold_by_cost_by_hand() -> None:
    y, p = np.array([0, 1, 0, 1]), np.array([0.2, 0.4, 0.6, 0.8])
    assert metrics.threshold_by_cost(y, p, cost_fn=10, cost_fp=1) == 0.4   # catch both bads, one false alarm
    assert metrics.threshold_by_cost(y, p, cost_fn=1, cost_fp=10) == 0.8   # miss one bad rather than any alarm
    nobody = metrics.threshold_by_cost(y, p, cost_fn=[0, 0, 0, 0], cost_fp=1)  # missing a bad is free
    assert nobody > 0.8 and metrics.classification_at(y, p, nobody)["flagged_rate"] == 0.0


def test_threshold_by_cost_matches_brute_force_with_exposure() -> None:
    y, p = sample(n=500, seed=11, decimals=3)
    rng = np.random.default_rng(11)
    exposure = rng.lognormal(8, 1, size=len(y))
    cost_fn, cost_fp = 0.6 * exposure, np.full(len(y), 150.0)  # loss given default vs. a lost customer
    t = metrics.threshold_by_cost(y, p, cost_fn, cost_fp)
    candidates = np.r_[np.unique(p), 1.5]
    brute = min(brute_cost(y, p, c, cost_fn, cost_fp) for c in candidates)
    assert brute_cost(y, p, t, cost_fn, cost_fp) == pytest.approx(brute, rel=1e-12)


def test_threshold_by_cost_rejects_bad_costs() -> None:
    with pytest.raises(ValueError, match="cost_fn"):
        metrics.threshold_by_cost(Y4, P4, cost_fn=[1, 2], cost_fp=1)
    with pytest.raises(ValueError, match="cost_fp"):
        metrics.threshold_by_cost(Y4, P4, cost_fn=1, cost_fp=-1)


def test_swap_matrix_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0, 1])
    champion = np.array([0.9, 0.8, 0.2, 0.1, 0.6, 0.3])    # declines rows 0, 1, 4 at 0.5
    challenger = np.array([0.7, 0.1, 0.6, 0.2, 0.9, 0.1])  # declines rows 0, 2, 4 at 0.5
    s = metrics.swap_matrix(y, champion, challenger, 0.5, 0.5)
    assert s["decline->decline"] == {"n": 2, "bads": 1, "bad_rate": 0.5}   # rows 0, 4
    assert s["decline->approve"] == {"n": 1, "bads": 0, "bad_rate": 0.0}   # row 1
    assert s["approve->decline"] == {"n": 1, "bads": 1, "bad_rate": 1.0}   # row 2
    assert s["approve->approve"] == {"n": 2, "bads": 1, "bad_rate": 0.5}   # rows 3, 5
    assert s["swap_in"] == s["decline->approve"] and s["swap_out"] == s["approve->decline"]
    empty = metrics.swap_matrix(y, champion, champion, 0.5, 0.5)["approve->decline"]
    assert empty == {"n": 0, "bads": 0, "bad_rate": 0.0}


# --- evaluate and validation ---------------------------------------------------------------------------

def test_evaluate_is_json_able_and_consistent() -> None:
    y, p = sample(seed=12)
    r = metrics.evaluate(y, p, threshold=0.3)
    assert json.loads(json.dumps(r)) == r
    assert all(type(v) in (int, float) for v in r.values())
    assert r["n"] == len(y) and r["positives"] == int(y.sum()) and r["positive_rate"] == pytest.approx(y.mean())
    assert r["auc"] == metrics.roc_auc(y, p) and r["gini"] == pytest.approx(metrics.gini(y, p))
    assert r["ks"] == metrics.ks_statistic(y, p) and r["brier"] == metrics.brier(y, p) and r["log_loss"] == metrics.log_loss(y, p)
    assert r["threshold"] == 0.3
    assert {k: r[k] for k in metrics.classification_at(y, p, 0.3)} == metrics.classification_at(y, p, 0.3)


def test_single_class_gives_nan_not_an_error() -> None:
    y, p = np.zeros(5, dtype=int), np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert math.isnan(metrics.roc_auc(y, p)) and math.isnan(metrics.gini(y, p)) and math.isnan(metrics.ks_statistic(y, p))
    curve = metrics.ks_curve(y, p)
    assert math.isnan(curve["ks"]) and all(math.isnan(v) for v in curve["cum_bad"])
    assert curve["cum_good"][-1] == 1.0
    assert metrics.roc_points(y, p) == {"fpr": [], "tpr": []}
    r = metrics.evaluate(y, p, 0.3)
    assert math.isnan(r["auc"]) and r["positives"] == 0 and r["brier"] == pytest.approx(np.mean(p ** 2))


@pytest.mark.parametrize(("y", "p", "message"), [
    ([0, 1, 1], [0.1, 0.2], "different lengths"),
    ([0, 2], [0.1, 0.2], "only 0 and 1"),
    ([0, -1], [0.1, 0.2], "only 0 and 1"),
    ([0, float("nan")], [0.1, 0.2], "only 0 and 1"),
    (np.array([0, None], dtype=object), [0.1, 0.2], "only 0 and 1"),
    ([0, 1], [0.1, 1.2], r"in \[0, 1\]"),
    ([0, 1], [-0.1, 0.2], r"in \[0, 1\]"),
    ([0, 1], [0.1, float("nan")], r"in \[0, 1\]"),
    ([0, 1], [0.1, float("inf")], r"in \[0, 1\]"),
    ([0, 1], ["a", "b"], "numeric"),
    ([], [], "empty"),
    ([[0, 1]], [[0.1, 0.2]], "1-D"),
])
def test_invalid_inputs_raise(y: object, p: object, message: str) -> None:
    for fn in (metrics.roc_auc, metrics.ks_statistic, metrics.brier, metrics.log_loss, partial(metrics.evaluate, threshold=0.5)):
        with pytest.raises(ValueError, match=message):
            fn(y, p)


def test_labels_may_be_bool_or_float() -> None:
    assert metrics.roc_auc(np.array([False, False, True, True]), P4) == metrics.roc_auc(Y4.astype(float), P4) == 0.75
