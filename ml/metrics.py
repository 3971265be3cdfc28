"""Binary-classification metrics for credit risk: y in {0, 1} with 1 = bad (default, fraud), p = P(y = 1).

Every public function validates its inputs (equal lengths, y only 0/1, p finite in [0, 1]) and raises
ValueError with a readable message otherwise. Results are plain Python floats/ints/lists, so they can be
written to JSON as they are. On a sample with a single class, auc/gini/ks (and the KS/ROC chart data) are
float('nan') or empty rather than an exception: a day without any bad is a fact to report, not a crash
(json.dumps writes NaN as a bare NaN token, which strict JSON parsers reject).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import roc_auc_score, roc_curve

LOG_LOSS_CLIP = 1e-15
_DECISIONS = ("approve", "decline")


def _check(y: ArrayLike, p: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Validated copies of y (int 0/1) and p (float in [0, 1])."""
    y_raw = np.asarray(y)
    try:
        p_arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"p must be numeric probabilities: {exc}") from exc
    if y_raw.ndim != 1 or p_arr.ndim != 1:
        raise ValueError(f"y and p must be 1-D; got shapes {y_raw.shape} and {p_arr.shape}")
    if len(y_raw) != len(p_arr):
        raise ValueError(f"y and p have different lengths ({len(y_raw)} vs {len(p_arr)})")
    if len(y_raw) == 0:
        raise ValueError("y and p are empty")
    try:
        # object arrays (e.g. a nullable Int64 column holding <NA>) fail here, with the message below
        y_float = y_raw.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError("y must contain only 0 and 1 (found missing or non-numeric labels)") from exc
    bad_y = ~np.isin(y_float, (0.0, 1.0))
    if bad_y.any():
        found = sorted({str(v) for v in y_raw[bad_y][:5].tolist()})
        raise ValueError(f"y must contain only 0 and 1; {int(bad_y.sum())} labels are not (e.g. {', '.join(found)})")
    bad_p = ~(np.isfinite(p_arr) & (p_arr >= 0.0) & (p_arr <= 1.0))
    if bad_p.any():
        raise ValueError(f"p must be finite probabilities in [0, 1]; {int(bad_p.sum())} values are not "
                         f"(e.g. {p_arr[bad_p][0]!r})")
    return y_float.astype(np.int64), p_arr


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if math.isnan(t):
        raise ValueError("threshold must be a number, got NaN")
    return t


def _check_beta(beta: float) -> float:
    b = float(beta)
    if not (b > 0 and math.isfinite(b)):
        raise ValueError(f"beta must be a positive finite number, got {beta!r}")
    return b


def _both_classes(y: NDArray[np.int64]) -> bool:
    return 0 < int(y.sum()) < len(y)


def _order_statistics(p: NDArray[np.float64], parts: int) -> NDArray[np.float64]:
    """The ceil(i*n/parts)-th smallest score for i = 1..parts: quantiles that are always sample values."""
    # integer ranks: float levels such as 0.7000000000000001 would split a block of tied scores
    ranks = (np.arange(1, parts + 1) * len(p) + parts - 1) // parts
    return np.sort(p)[ranks - 1]


def roc_auc(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve (ties count one half); NaN when the sample has a single class."""
    y_arr, p_arr = _check(y, p)
    if not _both_classes(y_arr):
        return float("nan")
    return float(roc_auc_score(y_arr, p_arr))


def gini(y: ArrayLike, p: ArrayLike) -> float:
    """Gini coefficient (accuracy ratio) = 2 * AUC - 1; NaN when the sample has a single class."""
    return 2.0 * roc_auc(y, p) - 1.0


def _ks_arrays(y: NDArray[np.int64], p: NDArray[np.float64]) -> tuple[float, float]:
    """(KS, score where it is reached) for validated inputs holding both classes."""
    order = np.argsort(p, kind="mergesort")
    ps, ys = p[order], y[order]
    # read the cumulative counts at the last row of each run of equal scores, so ties move together
    last = np.r_[ps[1:] != ps[:-1], True]
    cum_bad = np.cumsum(ys)[last] / ys.sum()
    cum_good = np.cumsum(1 - ys)[last] / (len(ys) - ys.sum())
    gaps = np.abs(cum_bad - cum_good)
    i = int(np.argmax(gaps))
    return float(gaps[i]), float(ps[last][i])


def ks_statistic(y: ArrayLike, p: ArrayLike) -> float:
    """Kolmogorov-Smirnov: max gap between the CDFs of p for bads and goods; NaN with a single class."""
    y_arr, p_arr = _check(y, p)
    if not _both_classes(y_arr):
        return float("nan")
    return _ks_arrays(y_arr, p_arr)[0]


def ks_curve(y: ArrayLike, p: ArrayLike, points: int = 101) -> dict[str, Any]:
    """CDFs P(p <= t) of bads and goods at up to `points` thresholds (+ the KS point), for a chart.

    ks_threshold is the score t where the CDFs are furthest apart, so flagging p > t makes the KS split.
    """
    if points < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    y_arr, p_arr = _check(y, p)
    # thresholds at quantiles of the pooled scores: resolution where the scores are (fraud scores sit near 0)
    grid = np.r_[p_arr.min(), _order_statistics(p_arr, points - 1)]
    ks, ks_t = _ks_arrays(y_arr, p_arr) if _both_classes(y_arr) else (float("nan"), float("nan"))
    # the KS point itself is added so the chart's largest gap is the reported one
    thresholds = np.unique(grid if math.isnan(ks_t) else np.r_[grid, ks_t])

    def cdf(cls: int) -> list[float]:
        scores = np.sort(p_arr[y_arr == cls])
        if len(scores) == 0:
            return [float("nan")] * len(thresholds)
        shares: list[float] = (np.searchsorted(scores, thresholds, side="right") / len(scores)).tolist()
        return shares

    return {"threshold": thresholds.tolist(), "cum_bad": cdf(1), "cum_good": cdf(0), "ks": ks, "ks_threshold": ks_t}


def roc_points(y: ArrayLike, p: ArrayLike, max_points: int = 200) -> dict[str, list[float]]:
    """ROC curve (fpr, tpr), thinned to at most `max_points` points, ends kept; empty with a single class."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    y_arr, p_arr = _check(y, p)
    if not _both_classes(y_arr):
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = roc_curve(y_arr, p_arr, drop_intermediate=True)
    if len(fpr) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": fpr.astype(float).tolist(), "tpr": tpr.astype(float).tolist()}


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Brier score: mean squared difference between p and y."""
    y_arr, p_arr = _check(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def log_loss(y: ArrayLike, p: ArrayLike) -> float:
    """Mean negative log-likelihood, with p clipped to [1e-15, 1 - 1e-15] so a confident miss stays finite."""
    y_arr, p_arr = _check(y, p)
    q = np.clip(p_arr, LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP)
    return float(-np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log1p(-q)))


def _fbeta(tp: NDArray[Any], fp: NDArray[Any], fn: NDArray[Any], beta: float) -> NDArray[np.float64]:
    # (1+b²)PR/(b²P+R) rewritten on counts; 0 when there is nothing to find and nothing flagged
    b2 = beta * beta
    denom = (1.0 + b2) * tp + b2 * fn + fp
    scores: NDArray[np.float64] = np.divide((1.0 + b2) * tp, denom, out=np.zeros(np.shape(tp), dtype=float),
                                            where=denom > 0)
    return scores


def classification_at(y: ArrayLike, p: ArrayLike, threshold: float, beta: float = 2.0) -> dict[str, Any]:
    """Confusion counts, precision, recall, F-beta and flagged rate when flagging p >= threshold (x/0 -> 0.0)."""
    y_arr, p_arr = _check(y, p)
    t = _check_threshold(threshold)
    flag = p_arr >= t
    tp = int(np.sum(flag & (y_arr == 1)))
    fp = int(np.sum(flag & (y_arr == 0)))
    fn = int(np.sum(~flag & (y_arr == 1)))
    tn = int(np.sum(~flag & (y_arr == 0)))
    return classification_from_counts(tp, fp, fn, tn, beta)


def classification_from_counts(tp: int, fp: int, fn: int, tn: int, beta: float = 2.0) -> dict[str, Any]:
    """Precision, recall, F-beta and flagged rate of confusion counts (x/0 -> 0.0), with the counts."""
    b = _check_beta(beta)
    n = tp + fp + fn + tn
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "fbeta": float(_fbeta(np.array(tp), np.array(fp), np.array(fn), b)),
        "flagged_rate": (tp + fp) / n if n else 0.0,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def _by_distinct_score(p: NDArray[np.float64], *weights: NDArray[np.float64]
                       ) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """Distinct scores u (ascending) and, per weight vector w, sum(w[p >= u]) for each u."""
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    u, start = np.unique(ps, return_index=True)
    sums = []
    for w in weights:
        below = np.r_[0.0, np.cumsum(w[order])][start]  # weight of rows scoring strictly below u
        sums.append(w.sum() - below)
    return u, sums


def threshold_by_fbeta(y: ArrayLike, p: ArrayLike, beta: float = 2.0) -> float:
    """Threshold (one of the scores) maximising F-beta of flagging p >= t; the highest such on ties."""
    y_arr, p_arr = _check(y, p)
    b = _check_beta(beta)
    n_bad = int(y_arr.sum())
    if n_bad == 0:
        raise ValueError("threshold_by_fbeta needs at least one bad (y == 1): F-beta is 0 at every threshold")
    # every distinct score is a candidate: exact, deterministic and O(n log n) with cumulative counts
    u, (tp, fp) = _by_distinct_score(p_arr, y_arr.astype(float), (1 - y_arr).astype(float))
    f = _fbeta(tp, fp, n_bad - tp, b)
    return float(u[np.flatnonzero(f == f.max())[-1]])


def threshold_by_cost(y: ArrayLike, p: ArrayLike, cost_fn: ArrayLike, cost_fp: ArrayLike) -> float:
    """Threshold minimising sum(cost_fn of missed bads) + sum(cost_fp of flagged goods); highest on ties.

    Costs are scalars or per-row arrays (e.g. exposure at default). Candidates are the distinct scores plus
    one just above the highest score (flag nobody), so the result may exceed max(p) by one float step.
    """
    y_arr, p_arr = _check(y, p)
    n = len(y_arr)
    costs: list[NDArray[np.float64]] = []
    for name, c in (("cost_fn", cost_fn), ("cost_fp", cost_fp)):
        arr = np.broadcast_to(np.asarray(c, dtype=float), (n,)) if np.ndim(c) == 0 else np.asarray(c, dtype=float)
        if arr.shape != (n,):
            raise ValueError(f"{name} must be a scalar or have one value per row ({n}); got shape {arr.shape}")
        if not (np.isfinite(arr) & (arr >= 0)).all():
            raise ValueError(f"{name} must be finite and non-negative")
        costs.append(arr)
    fn_w, fp_w = costs[0] * y_arr, costs[1] * (1 - y_arr)
    u, (fn_flagged, fp_flagged) = _by_distinct_score(p_arr, fn_w, fp_w)
    total = np.r_[fn_w.sum() - fn_flagged + fp_flagged, fn_w.sum()]
    candidates = np.r_[u, np.nextafter(u[-1], np.inf)]
    # cumulative sums of the same costs in a different order differ in the last bits: treat those as ties
    tol = 1e-12 * max(1.0, float(fn_w.sum() + fp_w.sum()))
    return float(candidates[np.flatnonzero(total <= total.min() + tol)[-1]])


def _quantile_bands(p: NDArray[np.float64], bands: int) -> NDArray[np.intp]:
    """0-based band per row: right-closed cuts at score quantiles; equal scores always share a band."""
    cuts = np.unique(_order_statistics(p, bands)[:-1])
    cuts = cuts[cuts < p.max()]  # a cut at the maximum would leave the top band empty
    return np.searchsorted(cuts, p, side="left")


def calibration_table(y: ArrayLike, p: ArrayLike, bands: int = 10) -> list[dict[str, Any]]:
    """Observed bad rate vs mean p per quantile band of p (band 1 = lowest risk; fewer bands when p ties)."""
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    y_arr, p_arr = _check(y, p)
    band = _quantile_bands(p_arr, bands)
    rows = []
    for i in range(int(band.max()) + 1):
        in_band = band == i
        yb, pb = y_arr[in_band], p_arr[in_band]
        rows.append({"band": i + 1, "n": int(in_band.sum()), "min_p": float(pb.min()), "max_p": float(pb.max()),
                     "mean_p": float(pb.mean()), "observed_rate": float(yb.mean())})
    return rows


def score_histogram(y: ArrayLike, p: ArrayLike, bins: int = 20) -> dict[str, list[Any]]:
    """Counts of goods and bads in `bins` equal-width bins over [0, 1] (last bin closed), for a chart."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    y_arr, p_arr = _check(y, p)
    # fixed [0, 1] axis so histograms of two models or two periods line up
    edges = np.linspace(0.0, 1.0, bins + 1)
    goods, _ = np.histogram(p_arr[y_arr == 0], bins=edges)
    bads, _ = np.histogram(p_arr[y_arr == 1], bins=edges)
    return {"edges": edges.tolist(), "goods": goods.astype(int).tolist(), "bads": bads.astype(int).tolist()}


def swap_matrix(y: ArrayLike, p_champion: ArrayLike, p_challenger: ArrayLike,
                threshold_champion: float, threshold_challenger: float) -> dict[str, Any]:
    """Champion vs challenger decisions (decline when p >= threshold): n, bads, bad rate per cell.

    Keys read "<champion decision>-><challenger decision>"; swap_in = declined by the champion but approved
    by the challenger, swap_out = the reverse. An empty cell has bad_rate 0.0.
    """
    y_arr, champ = _check(y, p_champion)
    _, chall = _check(y, p_challenger)
    return swap_table(*swap_counts(y_arr, champ >= _check_threshold(threshold_champion),
                                   chall >= _check_threshold(threshold_challenger)))


def swap_counts(y: ArrayLike, decline_a: ArrayLike, decline_b: ArrayLike
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows and bads per cell [a declines][b declines] (2 x 2, 0 = approve): additive over samples."""
    y_arr = np.asarray(y, dtype=np.int64)
    cell = 2 * np.asarray(decline_a, dtype=np.int64) + np.asarray(decline_b, dtype=np.int64)
    return np.bincount(cell, minlength=4).reshape(2, 2), np.bincount(cell, y_arr, 4).astype(np.int64).reshape(2, 2)


def swap_table(rows: ArrayLike, bads: ArrayLike) -> dict[str, Any]:
    """swap_matrix's cells from 2 x 2 counts of rows and bads ([a declines][b declines])."""
    n, d = np.asarray(rows), np.asarray(bads)
    result: dict[str, Any] = {}
    for i, a_name in enumerate(_DECISIONS):
        for j, b_name in enumerate(_DECISIONS):
            cell_n, cell_d = int(n[i, j]), int(d[i, j])
            rate = cell_d / cell_n if cell_n else 0.0
            result[f"{a_name}->{b_name}"] = {"n": cell_n, "bads": cell_d, "bad_rate": rate}
    result["swap_in"] = dict(result["decline->approve"])
    result["swap_out"] = dict(result["approve->decline"])
    return result


def evaluate(y: ArrayLike, p: ArrayLike, threshold: float, beta: float = 2.0) -> dict[str, Any]:
    """All headline metrics at once, JSON-able: auc, gini, ks, brier, log_loss, classification at threshold."""
    y_arr, p_arr = _check(y, p)
    auc = roc_auc(y_arr, p_arr)
    return {
        "n": len(y_arr),
        "positives": int(y_arr.sum()),
        "positive_rate": float(y_arr.mean()),
        "auc": auc,
        "gini": 2.0 * auc - 1.0,
        "ks": ks_statistic(y_arr, p_arr),
        "brier": brier(y_arr, p_arr),
        "log_loss": log_loss(y_arr, p_arr),
        "threshold": _check_threshold(threshold),
        **classification_at(y_arr, p_arr, threshold, beta),
    }
