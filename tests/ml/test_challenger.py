"""ml.monitor.challenger: the shadow comparison's counts against direct computations on the rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml import metrics
from ml.monitor.challenger import ShadowCounts


def test_comparison_equals_direct_computation_on_the_rows() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(-2.5, 1.2, 40_000)
    y = (rng.uniform(size=len(z)) < 1 / (1 + np.exp(-z))).astype(np.int64)
    production = 1 / (1 + np.exp(-(z + rng.normal(0, 0.8, len(z)))))  # a noisier ranking
    challenger = 1 / (1 + np.exp(-z))
    approved_p, approved_c = production < 0.12, challenger < 0.1
    shadow = ShadowCounts()
    for part in np.array_split(np.arange(len(z)), 3):  # three days, merged by adding
        shadow.add(y[part], production[part], approved_p[part], challenger[part], approved_c[part])
    result = shadow.compare("7")

    assert result.rows == len(y) and result.approval_rate == pytest.approx(approved_p.mean())
    k = int(round(approved_p.mean() * len(y)))
    for side, p in ((result.production, production), (result.challenger, challenger)):
        assert side["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-4)
        assert side["ks"] == pytest.approx(metrics.ks_statistic(y, p), abs=1e-3)
        assert side["default_rate_at_approval_rate"] == pytest.approx(y[np.argsort(p)[:k]].mean(), abs=1e-3)
    assert result.challenger["default_rate_at_approval_rate"] < result.production["default_rate_at_approval_rate"]
    swap_in = ~approved_p & approved_c  # declined by production, approved by the challenger
    assert result.swap["swap_in"] == {"n": int(swap_in.sum()), "bads": int(y[swap_in].sum()),
                                      "bad_rate": pytest.approx(y[swap_in].mean())}
    assert sum(result.swap[k]["n"] for k in ("approve->approve", "approve->decline", "decline->approve",
                                             "decline->decline")) == len(y)
