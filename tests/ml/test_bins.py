"""ml.bins: reference bins fitted once, applied to new data, PSI/CSI and traffic lights."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ml import bins as binning

# --- psi -----------------------------------------------------------------------------------------------

def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 ln 2 + 0.25 ln 1.5
    assert binning.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert binning.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)


def test_psi_floors_empty_bins_at_eps() -> None:
    # the empty expected bin counts as 1e-4: (0.1 - 1e-4) ln(0.1 / 1e-4) + (0.4 - 0.5) ln(0.4 / 0.5)
    hand = (0.1 - 1e-4) * math.log(0.1 / 1e-4) + (0.4 - 0.5) * math.log(0.4 / 0.5)
    assert binning.psi([0.5, 0.5, 0.0], [0.4, 0.5, 0.1]) == pytest.approx(hand)
    assert binning.psi([0.5, 0.5, 0.0], [0.4, 0.5, 0.1], eps=1e-3) < hand
    assert binning.psi([1.0, 0.0], [1.0, 0.0]) == 0.0


def test_psi_identical_is_zero_and_swap_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    e, a = rng.dirichlet(np.ones(10)), rng.dirichlet(np.ones(10))
    assert binning.psi(e, e) == 0.0
    assert binning.psi(e, a) > 0
    # (a - e) ln(a / e) is unchanged when a and e trade places (no flooring involved here)
    assert binning.psi(e, a) == pytest.approx(binning.psi(a, e), rel=1e-12)


@pytest.mark.parametrize(("expected", "actual", "message"), [
    ([0.5, 0.5], [1.0], "equal length"),
    ([0.5, 0.5], [0.7, 0.7], "summing to 1"),
    ([1.5, -0.5], [0.5, 0.5], "non-negative"),
    ([], [], "non-empty"),
])
def test_psi_rejects_non_proportions(expected: list[float], actual: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        binning.psi(expected, actual)


def test_shifted_normal_is_red_and_a_resample_is_green() -> None:
    rng = np.random.default_rng(1)
    bins = binning.fit_numeric_bins(rng.normal(size=20_000))
    shifted = binning.psi(bins["proportions"], binning.bin_proportions(rng.normal(1.0, 1.0, size=20_000), bins))
    same = binning.psi(bins["proportions"], binning.bin_proportions(rng.normal(size=20_000), bins))
    assert shifted > 0.25 and binning.traffic_light(shifted) == "red"
    assert same < 0.10 and binning.traffic_light(same) == "green"


def test_traffic_light_boundaries() -> None:
    assert [binning.traffic_light(v) for v in (0.0, 0.0999, 0.10, 0.2499, 0.25, 3.0)] == \
        ["green", "green", "amber", "amber", "red", "red"]
    assert binning.traffic_light(0.15, amber=0.2, red=0.3) == "green"
    with pytest.raises(ValueError):
        binning.traffic_light(float("nan"))


# --- numeric bins --------------------------------------------------------------------------------------

def reference_counts(values: np.ndarray, edges: list[float]) -> list[float]:
    """Independent binning with pd.cut (right-closed), missing last."""
    cut = pd.cut(pd.Series(values), [-np.inf, *edges, np.inf], right=True)
    counts = cut.value_counts(sort=False).tolist() + [int(cut.isna().sum())]
    return [c / len(values) for c in counts]


def test_numeric_bins_are_deciles_and_match_pd_cut() -> None:
    rng = np.random.default_rng(2)
    x = rng.lognormal(size=5000)
    bins = binning.fit_numeric_bins(x)
    assert bins["type"] == "numeric" and len(bins["edges"]) == 9
    np.testing.assert_allclose(bins["edges"], np.quantile(x, np.arange(1, 10) / 10, method="inverted_cdf"))
    assert bins["proportions"] == pytest.approx([0.1] * 10 + [0.0])
    new = rng.lognormal(0.3, 1.2, size=3000)
    assert binning.bin_proportions(new, bins) == pytest.approx(reference_counts(new, bins["edges"]))


def test_numeric_bins_are_right_closed() -> None:
    bins = {"type": "numeric", "edges": [1.0, 2.0], "proportions": [0.25] * 4}
    # 1.0 -> (-inf, 1], 1.5 and 2.0 -> (1, 2], 2.5 -> (2, inf), NaN -> missing
    assert binning.bin_proportions([1.0, 1.5, 2.0, 2.5, np.nan], bins) == [0.2, 0.4, 0.2, 0.2]
    assert binning.bin_proportions([-np.inf, np.inf], bins) == [0.5, 0.0, 0.5, 0.0]


def test_missing_values_land_in_the_missing_bin() -> None:
    x = np.r_[np.arange(90.0), [np.nan] * 10]
    bins = binning.fit_numeric_bins(x)
    assert bins["proportions"][-1] == pytest.approx(0.1)
    assert sum(bins["proportions"][:-1]) == pytest.approx(0.9)
    nullable = pd.array([1, None, 3, None], dtype="Int64")
    assert binning.bin_proportions(nullable, bins)[-1] == 0.5
    all_missing = binning.fit_numeric_bins([np.nan, np.nan])
    assert all_missing == {"type": "numeric", "edges": [], "proportions": [0.0, 1.0]}


def test_heavy_ties_give_valid_monotone_edges() -> None:
    rng = np.random.default_rng(3)
    x = np.r_[np.zeros(7000), rng.exponential(size=2900), [np.nan] * 100]
    bins = binning.fit_numeric_bins(rng.permutation(x))
    edges = np.array(bins["edges"])
    assert edges[0] == 0.0 and np.all(np.diff(edges) > 0) and np.all(np.isfinite(edges))
    assert len(bins["proportions"]) == len(edges) + 2
    assert sum(bins["proportions"]) == pytest.approx(1.0)
    assert bins["proportions"][0] == pytest.approx(0.7)  # the block of zeros is one bin, never split
    assert all(q > 0 for q in bins["proportions"][:-1])  # no empty bin on the development sample
    assert binning.fit_numeric_bins(np.zeros(100))["edges"] == []
    assert binning.fit_numeric_bins(np.r_[np.zeros(50), np.ones(50)]) == \
        {"type": "numeric", "edges": [0.0], "proportions": [0.5, 0.5, 0.0]}


# --- categorical bins ----------------------------------------------------------------------------------

def test_categorical_bins_order_other_and_missing() -> None:
    values = pd.Series(["b", "a", "c", "a", "b", None, "d", "a"], dtype="string")
    bins = binning.fit_categorical_bins(values, max_categories=2)
    # a x3, then b x2; c and d (beyond max) go to "other"; one missing
    assert bins == {"type": "categorical", "categories": ["a", "b"],
                    "proportions": [3 / 8, 2 / 8, 2 / 8, 1 / 8]}
    ties = binning.fit_categorical_bins(np.array(["y", "x", "z", "x", "y", "z"], dtype=object))
    assert ties["categories"] == ["x", "y", "z"]  # equal counts: by name


def test_unseen_category_lands_in_other() -> None:
    bins = binning.fit_categorical_bins(["fr", "es", "fr", None])
    assert binning.bin_proportions(["fr", "de", "it", np.nan, "es"], bins) == [0.2, 0.2, 0.4, 0.2]


def test_booleans_are_categories_true_false() -> None:
    bins = binning.fit_categorical_bins(pd.array([True, False, True, None], dtype="boolean"))
    assert bins["categories"] == ["True", "False"] and bins["proportions"] == [0.5, 0.25, 0.0, 0.25]
    assert binning.bin_proportions(np.array([True, True]), bins) == [1.0, 0.0, 0.0, 0.0]


# --- reference and stability ---------------------------------------------------------------------------

def development_frame(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10 + shift, 0.5, size=n)
    frame = pd.DataFrame({
        "income": income,
        "late_payments": pd.array(np.where(rng.uniform(size=n) < 0.05, None, rng.poisson(0.3, size=n)),
                                  dtype="Int64"),
        "is_owner": pd.array(rng.uniform(size=n) < 0.6, dtype="boolean"),
        "region": pd.Series(rng.choice(["north", "south", "east", "west"], size=n), dtype="category"),
        "channel": rng.choice(np.array(["web", "branch", None], dtype=object), size=n, p=[0.7, 0.25, 0.05]),
    })
    scores = 1 / (1 + np.exp(-(rng.normal(size=n) - 2 + 2 * shift)))  # shift 0.5: one sd riskier
    return frame, scores


def test_reference_round_trips_through_json_and_is_stable_on_itself() -> None:
    frame, scores = development_frame(3000, seed=4)
    reference = binning.fit_reference(frame, scores)
    assert json.loads(json.dumps(reference)) == reference
    assert reference["n"] == 3000 and reference["eps"] == 1e-4
    types = {name: spec["type"] for name, spec in reference["features"].items()}
    assert types == {"income": "numeric", "late_payments": "numeric", "is_owner": "categorical",
                     "region": "categorical", "channel": "categorical"}
    assert reference["features"]["is_owner"]["categories"] == ["True", "False"]
    assert reference["features"]["late_payments"]["edges"][0] == 0.0  # Poisson(0.3): mostly zeros

    result = binning.stability(json.loads(json.dumps(reference)), frame, scores)
    assert json.loads(json.dumps(result)) == result
    assert result["score_psi"] == 0.0 and result["score_light"] == "green"
    assert result["features"] == {name: {"csi": 0.0, "light": "green"} for name in frame.columns}


def test_stability_flags_the_drifted_feature() -> None:
    frame, scores = development_frame(5000, seed=5)
    reference = json.loads(json.dumps(binning.fit_reference(frame, scores)))
    current, current_scores = development_frame(5000, seed=6, shift=0.5)  # income and score drift
    current["channel"] = "web"  # a channel disappears
    current["region"] = current["region"].astype(str).replace({"west": "overseas"})  # a new region
    result = binning.stability(reference, current, current_scores)
    lights = {name: r["light"] for name, r in result["features"].items()}
    assert lights["income"] == "red" and lights["channel"] == "red" and lights["region"] == "red"
    assert lights["late_payments"] == "green" and lights["is_owner"] == "green"
    assert result["score_light"] == "red"
    # CSI is psi() of the stored proportions against bin_proportions of the new column
    income = reference["features"]["income"]
    assert result["features"]["income"]["csi"] == binning.psi(income["proportions"],
                                                          binning.bin_proportions(current["income"], income))


def test_stability_names_missing_columns() -> None:
    frame, scores = development_frame(200, seed=7)
    reference = binning.fit_reference(frame, scores)
    with pytest.raises(ValueError, match="income, region"):
        binning.stability(reference, frame.drop(columns=["income", "region"]), scores)


def test_fit_reference_rejects_mismatched_lengths() -> None:
    frame, scores = development_frame(200, seed=8)
    with pytest.raises(ValueError, match="different lengths"):
        binning.fit_reference(frame, scores[:-1])
