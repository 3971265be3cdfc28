"""ml.monitor.estimate: the label-free estimate is exact in expectation, covers the realised AUC on calibrated
PDs, and is visibly wrong when the PDs are not calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml.monitor.estimate import estimate, expected_auc

SEEDS = range(60)


def population(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True PDs and labels drawn from them."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.6, 1.2, n)
    return z, (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)


def test_expected_auc_is_the_expectation_over_distinct_pairs() -> None:
    rng = np.random.default_rng(0)
    p = np.round(rng.uniform(0.01, 0.6, 300), 2)  # ties included
    i_bad, j_good = p[:, None], 1 - p[None, :]
    h = (p[:, None] > p[None, :]) + 0.5 * (p[:, None] == p[None, :])
    off = ~np.eye(len(p), dtype=bool)
    assert expected_auc(p).auc == pytest.approx(float((i_bad * j_good * h)[off].sum() / (i_bad * j_good)[off].sum()),
                                                abs=1e-12)


def test_calibrated_pds_cover_the_realised_auc_and_default_rate() -> None:
    inside_auc = inside_rate = 0
    errors = []
    for seed in SEEDS:
        z, y = population(4000, seed)
        e = estimate(1 / (1 + np.exp(-z)))
        realised = roc_auc_score(y, z)
        inside_auc += e.auc_low <= realised <= e.auc_high
        inside_rate += e.default_rate_low <= y.mean() <= e.default_rate_high
        errors.append(e.expected_auc - realised)
    assert inside_auc >= 0.9 * len(SEEDS)
    assert inside_rate >= 0.9 * len(SEEDS)
    assert abs(np.mean(errors)) < 0.005  # unbiased: the seeds' errors average out


def test_miscalibrated_pds_are_visibly_wrong() -> None:
    """The same ranking with over-confident PDs (log-odds doubled): the estimate claims a better AUC than
    the labels give, and the realised AUC is outside the interval nearly always."""
    inside = 0
    for seed in SEEDS:
        z, y = population(4000, seed)
        e = estimate(1 / (1 + np.exp(-(2 * z + 2.6))))
        realised = roc_auc_score(y, z)
        inside += e.auc_low <= realised <= e.auc_high
        assert e.expected_auc - realised > 0.05
    assert inside <= 0.1 * len(SEEDS)


def test_no_rows() -> None:
    assert estimate(np.array([])).rows == 0
