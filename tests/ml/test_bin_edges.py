"""The candidate report (ml.bins, numbers as float64) and monitoring (ml.monitor.stability, numbers in the
training dtype) put every value in the same stored bin: at, just below and just above every edge, in float32
and in float64, after the bins went through JSON as they do when stored with the model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml import bins as binning
from ml.monitor import stability


def _around_edges(edges: list[float], dtype: type) -> np.ndarray:
    """Every edge and its nearest neighbours below and above in `dtype`."""
    at = np.asarray(edges, dtype=dtype)
    return np.concatenate([np.nextafter(at, dtype(-np.inf)), at, np.nextafter(at, dtype(np.inf))])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_both_implementations_agree_at_and_around_every_edge(dtype: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # ties (rounded values) and a spread of magnitudes, as amounts and ratios have
    development = np.round(rng.lognormal(2, 1.5, 4_000), int(rng.integers(0, 4))).astype(dtype)
    bins = json.loads(json.dumps(binning.fit_numeric_bins(development)))
    assert len(bins["edges"]) >= 5
    near = _around_edges(bins["edges"], dtype)
    current = np.concatenate([near, np.repeat(near, 3), rng.permutation(development)[:500],
                              np.array([np.nan, np.nan, -np.inf, np.inf, 0.0], dtype=dtype)]).astype(dtype)
    rng.shuffle(current)

    report = binning.bin_proportions(current, bins)
    monitored = stability.count_column(current, stability.Column(bins), dtype)
    assert monitored.bins.tolist() == binning.bin_counts(current, bins).tolist()
    assert (monitored.bins / len(current)).tolist() == report
    # and each edge itself lands in the bin it closes (right-closed), its successor in the next one
    for i, edge in enumerate(np.asarray(bins["edges"], dtype=dtype)):
        above = np.nextafter(edge, dtype(np.inf))
        assert stability.count_column(np.array([edge], dtype=dtype), stability.Column(bins), dtype).bins[i] == 1
        assert stability.count_column(np.array([above], dtype=dtype), stability.Column(bins), dtype).bins[i + 1] == 1
        assert binning.bin_counts(np.array([edge], dtype=dtype), bins)[i] == 1
        assert binning.bin_counts(np.array([above], dtype=dtype), bins)[i + 1] == 1


def test_both_implementations_agree_on_categories() -> None:
    rng = np.random.default_rng(7)
    bins = json.loads(json.dumps(binning.fit_categorical_bins(rng.choice(["a", "b", "c", "d"], 1_000, p=[.5, .3, .15, .05]),
                                                        max_categories=3)))
    current = pd.Series(rng.choice(["a", "b", "c", "d", "new", None], 2_000), dtype=object)
    monitored = stability.count_column(current, stability.Column(bins))
    assert monitored.bins.tolist() == binning.bin_counts(current, bins).tolist()
    assert (monitored.bins / len(current)).tolist() == binning.bin_proportions(current, bins)
