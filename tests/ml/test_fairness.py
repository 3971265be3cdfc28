"""The fair-lending statistics (ml/fairness.py) against references: fairlearn's selection rates by group, a
hand-computed adverse impact ratio and Katz interval, scikit-learn's AUC, scipy's and scikit-learn's association
measures; the groups a spec's bands and categories make."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import mutual_info_score, roc_auc_score

from ml import fairness
from ml.spec import MISSING_GROUP, FairnessAttribute, get_spec

REPO = Path(__file__).resolve().parents[2]
GMSC = get_spec(REPO / "datasets", "give_me_some_credit")
BANK = get_spec(REPO / "datasets", "bank_marketing")
AGE = GMSC.fairness.attributes[0]
MARITAL = BANK.fairness.attributes[0]


def _sample(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ages, approvals (the young approved less), outcomes and PDs."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n).astype(float)
    age[rng.uniform(size=n) < 0.01] = np.nan
    p = 1 / (1 + np.exp(-(rng.normal(-2.5, 1.0, n) + np.where(age < 25, 0.8, 0.0))))
    approved = rng.uniform(size=n) > np.where(age < 25, 0.45, 0.2)
    y = (rng.uniform(size=n) < p).astype(int)
    return age, approved, y, p


def test_bands_make_the_groups_of_a_numeric_attribute() -> None:
    codes, names = fairness.group_codes(pd.Series([18, 24, 24.99, 25, 61, 61.5, 62, 99, None]), AGE, GMSC)
    assert names == ["under 25", "25 to 61", "62 and over", MISSING_GROUP]
    assert [names[c] for c in codes] == ["under 25"] * 3 + ["25 to 61"] * 3 + ["62 and over"] * 2 + [MISSING_GROUP]


def test_categories_make_the_groups_of_a_category_attribute() -> None:
    codes, names = fairness.group_codes(pd.Series(["married", "single", None, "divorced", "unknown"]), MARITAL, BANK)
    assert names == ["divorced", "married", "single", "unknown", MISSING_GROUP]
    assert [names[c] for c in codes] == ["married", "single", MISSING_GROUP, "divorced", "unknown"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_approval_rates_and_ratios_match_fairlearn_selection_rates(seed: int) -> None:
    age, approved, y, p = _sample(seed)
    codes, names = fairness.group_codes(age, AGE, GMSC)
    rows = fairness.judge(fairness.count_groups(codes, names, AGE, approved, y, p), GMSC.fairness)
    groups = np.array(names)[codes]
    frame = MetricFrame(metrics=selection_rate, y_true=y, y_pred=approved.astype(int), sensitive_features=groups)
    by_group = frame.by_group
    for r in rows:
        assert r.approval_rate == pytest.approx(by_group[r.group], abs=1e-12)
        assert r.ratio == pytest.approx(by_group[r.group] / by_group["25 to 61"], abs=1e-12)
        assert r.rows == int((groups == r.group).sum())
        assert r.default_rate == pytest.approx(y[groups == r.group].mean())
        assert r.mean_pd == pytest.approx(p[groups == r.group].mean())
        assert r.approved_bad_rate == pytest.approx(y[(groups == r.group) & approved].mean())
    assert rows[0].group == "25 to 61" and rows[0].reference and rows[0].light is None
    young = next(r for r in rows if r.group == "under 25")
    assert young.light == "red" and young.ratio < 0.8  # approved ~55% against ~80%
    assert next(r for r in rows if r.group == "62 and over").light == "green"


def test_the_ratio_and_its_katz_interval_by_hand() -> None:
    # 30 of 60 approved against 80 of 100: ratio 0.5 / 0.8 = 0.625;
    # se(log) = sqrt(1/30 - 1/60 + 1/80 - 1/100) = sqrt(0.0191667) = 0.138444
    ratio, low, high = fairness.impact_ratio(30, 60, 80, 100)
    se = math.sqrt(1 / 30 - 1 / 60 + 1 / 80 - 1 / 100)
    assert ratio == pytest.approx(0.625)
    assert se == pytest.approx(0.138444, abs=1e-6)
    assert low == pytest.approx(0.625 * math.exp(-1.959964 * se), abs=1e-6)  # 0.4765
    assert high == pytest.approx(0.625 * math.exp(1.959964 * se), abs=1e-6)  # 0.8198
    assert (round(low, 4), round(high, 4)) == (0.4765, 0.8198)


def test_a_group_approving_nobody_has_ratio_zero_and_a_corrected_interval() -> None:
    ratio, low, high = fairness.impact_ratio(0, 40, 80, 100)
    assert ratio == 0.0 and 0 < low < high < 1
    # Haldane-Anscombe: (0.5 / 41) / (80.5 / 101), se^2 = 1/0.5 - 1/41 + 1/80.5 - 1/101
    centre = math.log((0.5 / 41) / (80.5 / 101))
    se = math.sqrt(1 / 0.5 - 1 / 41 + 1 / 80.5 - 1 / 101)
    assert low == pytest.approx(math.exp(centre - 1.959964 * se), rel=1e-6)
    assert math.isnan(fairness.impact_ratio(10, 20, 0, 50)[0])  # the reference approves nobody: undefined


def test_the_interval_covers_the_true_ratio_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    n, n0, rate, rate0, hits, trials = 300, 1_500, 0.56, 0.8, 0, 2_000
    for _ in range(trials):
        _, low, high = fairness.impact_ratio(int(rng.binomial(n, rate)), n, int(rng.binomial(n0, rate0)), n0)
        hits += low <= rate / rate0 <= high
    assert 0.93 <= hits / trials <= 0.97


def test_small_groups_are_shown_not_judged() -> None:
    counts = fairness.GroupCounts("age", "monitored", "25 to 61", {"25 to 61": fairness.Cell(1_000, 800),
                                                           "under 25": fairness.Cell(20, 5)})
    young = fairness.judge(counts, GMSC.fairness)[1]
    assert young.ratio == pytest.approx(0.3125) and young.light == fairness.TOO_FEW_ROWS  # 20 < min_group_rows 50
    assert fairness.below_minimum([young]) == []


def test_counts_merge_by_adding() -> None:
    age, approved, y, p = _sample(4)
    codes, names = fairness.group_codes(age, AGE, GMSC)
    whole = fairness.count_groups(codes, names, AGE, approved, y, p)
    half = len(age) // 2
    merged = fairness.count_groups(codes[:half], names, AGE, approved[:half], y[:half], p[:half])
    merged.merge(fairness.count_groups(codes[half:], names, AGE, approved[half:], y[half:], p[half:]))
    assert {k: (c.rows, c.approved, c.bads, c.approved_bads) for k, c in merged.cells.items()} == \
        {k: (c.rows, c.approved, c.bads, c.approved_bads) for k, c in whole.cells.items()}
    assert fairness.GroupCounts.from_dict(whole.to_dict()) == whole


def test_auc_by_group_matches_scikit_learn_where_there_are_enough_bads() -> None:
    age, _, y, p = _sample(5, 3_000)
    codes, names = fairness.group_codes(age, AGE, GMSC)
    aucs = fairness.group_aucs(codes, names, y, p, min_bads=10)
    groups = np.array(names)[codes]
    for name, (auc, low, high) in aucs.items():
        assert auc == pytest.approx(roc_auc_score(y[groups == name], p[groups == name]), abs=1e-12)
        assert low < auc < high
    few = {n for n in names if y[groups == n].sum() < 10}
    assert few and not few & set(aucs)  # the missing group (~30 rows) has too few bads


def test_association_matches_scipy_and_scikit_learn_and_finds_the_proxy() -> None:
    rng = np.random.default_rng(11)
    group = rng.integers(0, 3, 5_000)
    proxy = np.where(rng.uniform(size=5_000) < 0.7, group, rng.integers(0, 3, 5_000))  # mostly the group
    noise = rng.integers(0, 4, 5_000)
    table = pd.crosstab(proxy, group).to_numpy()
    chi2 = ((table - table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()) ** 2
            / (table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum())).sum()
    v, mi = fairness.association(proxy, group)
    assert v == pytest.approx(math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))), rel=1e-9)  # Cramer's V
    assert mi == pytest.approx(mutual_info_score(proxy, group), rel=1e-9)
    features = pd.DataFrame({"proxy": proxy.astype(float), "noise": pd.Categorical(noise),
                             "age": group.astype(float)})
    found = fairness.proxies(features, group, top=5, exclude=["age"])
    assert [p.feature for p in found] == ["proxy", "noise"] and found[0].cramers_v > 0.5 > found[1].cramers_v


def test_a_text_attribute_groups_by_its_values() -> None:
    attribute = FairnessAttribute(column="region", kind="protected", reference="north")
    codes, names = fairness.group_codes(pd.Series(["south", "north", None, "north"]), attribute, GMSC)
    assert names == ["north", "south", MISSING_GROUP] and list(codes) == [1, 0, 2, 0]


def test_a_ratio_just_below_the_minimum_is_printed_with_the_digits_that_tell_them_apart() -> None:
    import dataclasses

    from ml.spec import Fairness

    row = fairness.GroupRow(attribute="age", kind="monitored", group="under 25", reference=False, rows=453,
                      approved=239, approval_rate=0.5276, ratio=0.7966, ratio_low=0.73, ratio_high=0.87, light="red")
    assert "adverse impact ratio 0.797 (95% CI 0.73 to 0.87) below 0.8" in fairness.describe(row, Fairness())
    assert "adverse impact ratio 0.62 (95% CI" in fairness.describe(dataclasses.replace(row, ratio=0.62), Fairness())
