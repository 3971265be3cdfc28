"""ml.monitor.stability: every statistic against a reference implementation, on seeded random inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from ml import bins as binning
from ml.monitor import stability
from ml.spec import Monitoring

MONITORING = Monitoring()


def _psi_by_hand(expected: list[float], values: list[object], bins: dict, eps: float) -> float:
    """PSI the long way: each value assigned to its bin in a Python loop, then sum (a - e) ln(a / e)."""
    counts = [0] * len(expected)
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            counts[-1] += 1
        elif bins["type"] == "numeric":
            counts[sum(1 for e in bins["edges"] if v > e)] += 1
        else:
            cats = bins["categories"]
            counts[cats.index(str(v)) if str(v) in cats else len(cats)] += 1
    total = 0.0
    for e, c in zip(expected, counts, strict=True):
        a = max(c / len(values), eps)
        e = max(e, eps)
        total += (a - e) * math.log(a / e)
    return total


def _reference(seed: int, n: int = 5_000) -> tuple[stability.Reference, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    dev = pd.DataFrame({
        "amount": rng.lognormal(3, 1, n).astype("float32"),
        "age": rng.integers(18, 80, n).astype("float32"),
        "flag": (rng.random(n) < 0.3).astype("float32"),
        "sparse": np.where(rng.random(n) < 0.9, np.nan, rng.normal(size=n)).astype("float32"),
        "merchant": pd.Categorical(rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05])),
    })
    scores = rng.beta(1, 12, n)
    ref_bins = binning.fit_reference(dev, scores)
    sample = binning.reference_sample(dev, scores, size=3_000, seed=seed)
    return stability.Reference.of(ref_bins, sample, {"merchant": ["a", "b", "c", "d"]}), dev, scores


@pytest.mark.parametrize("seed", range(5))
def test_psi_and_csi_equal_the_hand_computation(seed: int) -> None:
    reference, _, _ = _reference(seed)
    rng = np.random.default_rng(100 + seed)
    n = 2_000
    current = {
        "amount": rng.lognormal(3.3, 1.1, n),
        "age": np.full(n, 40.0),  # a single value: most bins empty
        "flag": rng.random(n) < 0.5,
        "sparse": np.full(n, np.nan),  # all missing
        "merchant": rng.choice(["a", "b", "zoo", "e", None], n).tolist(),  # unseen categories and missing
    }
    scores = rng.beta(1.2, 10, n)
    counts = stability.count_window(scores, current, reference)
    stats = {(s.statistic, s.feature): s for s in stability.judge(counts, reference, MONITORING)}
    for name, column in reference.features.items():
        values = current[name]
        if not column.categorical:
            values = np.asarray(values, dtype=np.float32).astype(float).tolist()  # the model's view: float32
        hand = _psi_by_hand(column.bins["proportions"], list(values), column.bins, reference.eps)
        assert stats[("csi", name)].value == pytest.approx(hand, abs=1e-9), name
    hand = _psi_by_hand(reference.score.bins["proportions"], scores.tolist(), reference.score.bins, reference.eps)
    assert stats[("score_psi", "")].value == pytest.approx(hand, abs=1e-9)
    assert stats[("csi", "merchant")].detail["unseen"] == {
        k: int(v) for k, v in pd.Series(current["merchant"]).value_counts().items() if k in ("zoo", "e")}
    assert stats[("ks", "sparse")].value is None  # nothing to compare on either side


@pytest.mark.parametrize("seed", range(5))
def test_ks_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=int(rng.integers(200, 3_000)))
    current = rng.normal(0.1 * seed, 1.0 + 0.1 * seed, size=int(rng.integers(100, 5_000)))
    if seed % 2:  # ties on both sides
        reference, current = np.round(reference, 1), np.round(current, 1)
    expected = ks_2samp(reference, current, method="asymp")
    d = stability.ks_statistic(np.sort(reference), np.sort(current))
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert stability.ks_pvalue(d, len(current), len(reference)) == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(5))
def test_js_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(12))
    q[3] = 0.0  # an empty bin on one side
    assert stability.js_distance(p, q) == pytest.approx(jensenshannon(p, q / q.sum(), base=2), abs=1e-12)
    assert stability.js_distance(p, p) == pytest.approx(0.0, abs=1e-7)
    assert stability.js_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_a_day_counts_ks_exactly_and_the_ks_grid_agrees_with_scipy() -> None:
    reference, _, _ = _reference(7)
    rng = np.random.default_rng(8)
    day = {"amount": rng.lognormal(3.2, 1, 4_000), "age": rng.integers(18, 90, 4_000).astype(float),
           "flag": rng.random(4_000) < 0.4, "sparse": rng.normal(size=4_000), "merchant": ["a"] * 4_000}
    counts = stability.count_window(rng.beta(1, 10, 4_000), day, reference)
    for name in ("amount", "age"):
        current = np.asarray(day[name], dtype=np.float32).astype(float)
        exact = ks_2samp(reference.features[name].sample, current, method="asymp").statistic
        assert counts.features[name].ks == pytest.approx(exact, abs=1e-12)
        grid = stability.ks_on_grid(reference.features[name], counts.features[name])
        if name == "age":  # 62 distinct reference values: the grid holds them all, so it is exact
            assert grid == pytest.approx(exact, abs=1e-12)
        else:  # quantiles of a continuous sample: never above the exact statistic, at most ~1/GRID_POINTS below
            assert exact - 1.5 / stability.GRID_POINTS <= grid <= exact + 1e-12


def test_a_week_merged_from_its_days_equals_the_week_counted_at_once() -> None:
    reference, _, _ = _reference(11)
    rng = np.random.default_rng(12)
    days = []
    for i in range(7):
        n = 300 + 50 * i
        days.append(({"amount": rng.lognormal(3 + 0.05 * i, 1, n), "age": rng.integers(18, 90, n).astype(float),
                      "flag": rng.random(n) < 0.3, "sparse": rng.normal(size=n),
                      "merchant": rng.choice(["a", "b", "new"], n).tolist()}, rng.beta(1, 10, n)))
    counted = [stability.count_window(scores, columns, reference) for columns, scores in days]
    # a day through the history: its statistics as JSON, and back
    stored = [[stability.Stat(**json.loads(json.dumps(s.__dict__))) for s in stability.judge(c, reference, MONITORING)]
              for c in counted]
    merged = stability.merge([stability.counts_from_stats(s, reference) for s in stored])
    at_once = stability.count_window(np.concatenate([s for _, s in days]),
                              {k: np.concatenate([np.asarray(c[k], dtype=object if k == "merchant" else float)
                                                  for c, _ in days]) for k in days[0][0]}, reference)
    week = {(s.statistic, s.feature): s for s in stability.judge(merged, reference, MONITORING)}
    once = {(s.statistic, s.feature): s for s in stability.judge(at_once, reference, MONITORING)}
    assert merged.rows == at_once.rows == sum(len(s) for _, s in days)
    for key, stat in once.items():
        if key[0] in ("csi", "score_psi", "js", "score_js", "rows"):
            assert week[key].value == pytest.approx(stat.value, abs=1e-12), key
    assert week[("csi", "merchant")].detail["unseen"] == once[("csi", "merchant")].detail["unseen"]
    assert week[("ks", "age")].value == pytest.approx(once[("ks", "age")].value, abs=1e-12)  # exact on the grid
    assert week[("ks", "age")].detail["method"] == "grid" and once[("ks", "age")].detail["method"] == "exact"


def test_lights_too_few_rows_and_the_retrain_rule() -> None:
    reference, dev, scores = _reference(3)
    stable = stability.judge(stability.count_window(scores, {c: dev[c] for c in dev}, reference), reference, MONITORING)
    window = next(s for s in stable if s.statistic == "overall" and s.feature == "")
    assert window.light == "green" and stability.retrain_reason(stable, MONITORING) is None

    rng = np.random.default_rng(4)
    n = 3_000
    drifted = {"amount": rng.lognormal(4.5, 1, n), "age": rng.integers(60, 90, n).astype(float),
               "flag": rng.random(n) < 0.9, "sparse": rng.normal(size=n), "merchant": ["d"] * n}
    stats = stability.judge(stability.count_window(rng.beta(3, 5, n), drifted, reference), reference, MONITORING)
    window = next(s for s in stats if s.statistic == "overall" and s.feature == "")
    assert window.light == "red" and window.value >= 3
    reason = stability.retrain_reason(stats, MONITORING)
    assert reason is not None and "score PSI" in reason and "red features (>= 3)" in reason
    lenient = Monitoring(psi={"amber": 50, "red": 90}, ks={"amber": 5, "red": 9}, js={"amber": 5, "red": 9})
    counts = stability.count_window(rng.beta(3, 5, n), drifted, reference)
    assert stability.retrain_reason(stability.judge(counts, reference, lenient), lenient) is None
    assert stability.retrain_reason(stability.judge(counts, reference, MONITORING), MONITORING.model_copy(
        update={"retrain_on_red_features": 9})).startswith("score PSI")

    few = stability.judge(stability.count_window(rng.beta(3, 5, 20), {k: v[:20] for k, v in drifted.items()}, reference),
                   reference, MONITORING)
    assert {s.light for s in few if s.value is not None} == {stability.TOO_FEW_ROWS}


def test_a_model_without_reference_sample_says_so() -> None:
    _, dev, scores = _reference(5)
    reference = stability.Reference.of(binning.fit_reference(dev, scores))
    stats = stability.judge(stability.count_window(scores, {c: dev[c] for c in dev}, reference), reference, MONITORING)
    ks = [s for s in stats if s.statistic in ("ks", "score_ks")]
    assert ks and all(s.value is None and s.detail == {"note": "no reference sample"} for s in ks)
    assert all(s.value is not None for s in stats if s.statistic == "csi")


def test_categorical_counts_read_arrow_dictionaries() -> None:
    column = stability.Column({"type": "categorical", "categories": ["x", "y"], "proportions": [0.5, 0.3, 0.1, 0.1]},
                       known=frozenset({"x", "y", "rare"}))
    values = pa.chunked_array([pa.array(["x", "y", None, "rare"]).dictionary_encode(),
                               pa.array(["new", "x", "new"]).dictionary_encode()])
    counts = stability.count_categorical(values, column)
    assert counts.bins.tolist() == [2, 1, 3, 1] and counts.unseen == {"new": 2}


def test_bin_labels() -> None:
    assert stability.bin_labels({"type": "numeric", "edges": [1.0, 2.5]}) == ["<= 1", "(1, 2.5]", "> 2.5", "missing"]
    assert stability.bin_labels({"type": "categorical", "categories": ["a"]}) == ["a", "other", "missing"]
