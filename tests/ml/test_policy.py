"""Credit policy as pure functions: score scale, bands, cut-offs, hard rules and the final decision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ml import policy as credit_policy
from ml import rating
from ml.spec import DatasetSpec, HardRule, Policy

DEFAULT = Policy()
BANDS = rating.LEGACY_BANDS  # fixed score bands A-E (640, 600, 560, 520)


def _pd_at_odds(odds: float) -> float:
    """PD whose good:bad odds are `odds`."""
    return 1.0 / (1.0 + odds)


# ---- score scale -----------------------------------------------------------------------------------------

def test_base_score_at_base_odds_and_pdo_per_doubling():
    assert rating.to_score(np.array([_pd_at_odds(50)]), DEFAULT)[0] == 600  # pd = 1/51
    odds = np.array([50 / 8, 50 / 4, 50 / 2, 50, 100, 200, 400, 800])
    scores = rating.to_score(np.array([_pd_at_odds(o) for o in odds]), DEFAULT)
    assert scores.tolist() == [540, 560, 580, 600, 620, 640, 660, 680]  # +20 points each time the odds double
    assert scores.dtype == np.int32


def test_score_scale_follows_the_policy_parameters():
    policy = Policy(base_score=500, base_odds=20, pdo=40)
    scores = rating.to_score(np.array([_pd_at_odds(20), _pd_at_odds(40), _pd_at_odds(10)]), policy)
    assert scores.tolist() == [500, 540, 460]


def test_score_is_monotone_decreasing_in_pd_and_finite_at_the_extremes():
    rng = np.random.default_rng(20260901)
    p = np.sort(np.concatenate([rng.uniform(0, 1, 5_000), rng.uniform(0, 0.05, 5_000), [0.0, 1.0]]))
    scores = rating.to_score(p, DEFAULT)
    assert np.all(np.diff(scores.astype(np.int64)) <= 0)
    # well-separated probabilities (odds ratio 1.5, ~11.7 points) give strictly decreasing scores
    spread = rating.to_score(np.array([_pd_at_odds(1.5 ** k) for k in range(30, -10, -1)]), DEFAULT)
    assert np.all(np.diff(spread.astype(np.int64)) < 0)
    assert np.isfinite(scores.astype(float)).all() and scores[0] > scores[-1]
    # unrounded check against the closed form on random probabilities
    q = rng.uniform(0.001, 0.999, 1_000)
    exact = 600 + 20 / math.log(2) * (np.log((1 - q) / q) - math.log(50))
    assert np.abs(rating.to_score(q, DEFAULT) - exact).max() <= 0.5 + 1e-9


# ---- bands -----------------------------------------------------------------------------------------------

def test_band_boundaries_belong_to_the_higher_band():
    score = np.array([700, 640, 639, 600, 599, 560, 559, 520, 519, -10_000])
    assert rating.to_band(np.zeros(len(score)), score, BANDS).tolist() == [
        "A", "A", "B", "B", "C", "C", "D", "D", "E", "E"]


def test_score_bands_in_any_order_and_below_the_lowest_minimum():
    policy = Policy(bands=[{"name": "low", "min_score": 500}, {"name": "high", "min_score": 650},
                           {"name": "mid", "min_score": 580}])
    scale = rating.derive_bands(policy.bands)
    assert rating.to_band(np.zeros(6), np.array([400, 500, 579, 580, 649, 650]), scale).tolist() == [
        "low", "low", "low", "mid", "mid", "high"]  # under every minimum: the lowest band


def test_pd_quantile_bands_use_every_band_on_a_high_risk_portfolio():
    """Fixed score cut-offs leave the best bands empty when every PD is high; quantiles of the development
    sample give each band its share, and the scale is applied unchanged to later rows."""
    rng = np.random.default_rng(20261201)
    dev = rng.beta(20, 30, 10_000)  # PDs around 40 %: scores far below the fixed bands' 560 for C
    assert set(rating.to_band(dev, rating.to_score(dev, DEFAULT), BANDS)) <= {"D", "E"}
    scale = rating.derive_bands(DEFAULT.bands, dev)
    assert scale.by == "pd" and scale.names == ("A", "B", "C", "D", "E") and scale.bounds[-1] == 1.0
    np.testing.assert_allclose(scale.bounds[:-1], np.quantile(dev, [0.2, 0.4, 0.6, 0.8]), atol=1e-3)
    counts = pd.Series(rating.to_band(dev, rating.to_score(dev, DEFAULT), scale)).value_counts()
    assert counts.to_dict() == dict.fromkeys("ABCDE", 2_000)  # distinct PDs: equal shares, best band first
    later = np.array([0.0, scale.bounds[0], np.nextafter(scale.bounds[0], 1), 0.99, 1.0])
    assert rating.to_band(later, rating.to_score(later, DEFAULT), scale).tolist() == ["A", "A", "B", "E", "E"]
    assert rating.BandScale.from_dict(scale.to_dict()) == scale  # stored with the model as JSON


def test_master_scale_bands_and_the_scale_of_models_stored_without_one():
    policy = Policy(bands={"method": "master_scale", "master_scale": [
        {"name": "1", "max_pd": 0.01}, {"name": "2", "max_pd": 0.05}, {"name": "3", "max_pd": 1}]})
    scale = rating.derive_bands(policy.bands)
    p = np.array([0.001, 0.01, 0.0101, 0.05, 0.5])
    assert rating.to_band(p, rating.to_score(p, policy), scale).tolist() == ["1", "1", "2", "2", "3"]
    # a model stored without bands: the spec's fixed scale, or (PD quantiles) the fixed score bands of old
    assert rating.band_scale(None, policy) == scale
    assert rating.band_scale(None, DEFAULT) == rating.LEGACY_BANDS
    assert rating.band_scale(scale.to_dict(), DEFAULT) == scale


@pytest.mark.parametrize(("bands", "message"), [
    ({"method": "master_scale", "master_scale": [{"name": "1", "max_pd": 0.5}]}, "the last one 1"),
    ({"method": "master_scale", "master_scale": [{"name": "1", "max_pd": 0.5}, {"name": "2", "max_pd": 0.1},
                                                 {"name": "3", "max_pd": 1}]}, "ascending max_pd"),
    ({"method": "master_scale", "names": ["A", "B"], "master_scale": [{"name": "1", "max_pd": 1}]},
     "names does nothing on master_scale bands"),
    ({"names": ["A", "A"]}, "distinct names"),
])
def test_invalid_band_methods(bands, message):
    with pytest.raises(ValidationError, match=message):
        Policy(bands=bands)


# ---- model decision --------------------------------------------------------------------------------------

def test_model_threshold_decides_when_no_cut_offs_are_set():
    t = 0.2
    review_from = t * DEFAULT.review_fraction
    p = np.array([0.0, np.nextafter(review_from, 0), review_from, np.nextafter(t, 0), t, 0.9, 1.0])
    decision = credit_policy.model_decision(p, rating.to_score(p, DEFAULT), t, DEFAULT)
    assert decision.tolist() == ["approve", "approve", "review", "review", "decline", "decline", "decline"]


def test_review_fraction_moves_the_review_band():
    policy = Policy(review_fraction=1.0)  # no review band at all
    p = np.array([0.1, 0.199, 0.2])
    assert credit_policy.model_decision(p, rating.to_score(p, policy), 0.2, policy).tolist() == ["approve", "approve", "decline"]


def test_score_cut_offs_replace_the_model_threshold():
    policy = Policy(approve_min_score=620, decline_below_score=580)
    score = np.array([700, 620, 619, 580, 579, 300])
    # the PDs would all be declined by the threshold: the cut-offs alone decide
    decision = credit_policy.model_decision(np.full(6, 0.99), score, 0.01, policy)
    assert decision.tolist() == ["approve", "approve", "review", "review", "decline", "decline"]
    equal = Policy(approve_min_score=600, decline_below_score=600)  # no review band
    assert credit_policy.model_decision(np.zeros(2), np.array([600, 599]), 0.5, equal).tolist() == ["approve", "decline"]


# ---- hard rules ------------------------------------------------------------------------------------------

FRAME = pd.DataFrame({
    "amount": pd.array([50.0, 100.0, 150.0, None, 100.5], dtype="Float64"),
    "channel": pd.array(["online", "POS", None, "Online", "atm"], dtype="string"),
    "customer_age": pd.array([30, None, 70, 45, None], dtype="Int64"),
})


def _rule(when: str, action: str = "decline", code: str = "R") -> HardRule:
    return HardRule(when=when, action=action, code=code)


@pytest.mark.parametrize(("when", "expected"), [
    ("amount < 100", [True, False, False, False, False]),
    ("amount >= 100", [False, True, True, False, True]),
    ("amount > 100", [False, False, True, False, True]),
    ("amount <= 100", [True, True, False, False, False]),
    ("amount == 100", [False, True, False, False, False]),  # numbers compare as numbers: 100 == 100.0
    ("amount != 100", [True, False, True, False, True]),
    ("customer_age == 70.0", [False, False, True, False, False]),
    ("channel == online", [True, False, False, True, False]),  # case-insensitive text equality
    ("channel == 'pos'", [False, True, False, False, False]),
    ("channel != online", [False, True, False, False, True]),  # a missing value is not "different" either
    ("customer_age < 18", [False, False, False, False, False]),
    ("customer_age is null", [False, True, False, False, True]),
    ("customer_age is not null", [True, False, True, True, False]),
    ("amount is null", [False, False, False, True, False]),
])
def test_rule_operators_and_missing_values(when, expected):
    matched = credit_policy.hard_rules(FRAME, [_rule(when, code="X")])
    assert (matched == 0).tolist() == expected
    assert (matched == -1).tolist() == [not hit for hit in expected]


@pytest.mark.parametrize(("when", "expected"), [
    ("opened < 2026-09-01", [True, False, False, False]),
    ("opened >= '2026-09-01'", [False, True, True, False]),
    ("opened == 2026-09-01", [False, True, False, False]),
    ("opened != 2026-09-01", [True, False, True, False]),  # a missing date is not "different" either
    ("opened is null", [False, False, False, True]),
])
def test_dates_compare_as_dates(when, expected):
    frame = pd.DataFrame({"opened": pd.to_datetime(["2026-08-31", "2026-09-01", "2027-01-01", None])})
    assert (credit_policy.hard_rules(frame, [_rule(when)]) == 0).tolist() == expected


def test_missing_values_never_satisfy_a_comparison():
    frame = pd.DataFrame({"x": pd.array([None, None], dtype="Float64"), "y": [np.nan, 1.0]})
    for when in ("x < 0", "x > 0", "x <= 0", "x >= 0", "x == 0", "x != 0", "y < 5", "y >= -5"):
        assert credit_policy.hard_rules(frame, [_rule(when)])[0] == -1, when


def test_first_matching_rule_wins():
    rules = [_rule("amount > 120", "review", "R1"), _rule("amount >= 100", "decline", "D1"),
             _rule("channel == online", "review", "R2")]
    assert credit_policy.hard_rules(FRAME, rules).tolist() == [2, 1, 0, 2, 1]
    out = credit_policy.decide(FRAME, np.zeros(len(FRAME)), 0.5, Policy(hard_rules=rules), BANDS)
    assert out["decision"].tolist() == ["review", "decline", "review", "review", "decline"]
    assert out["hard_rule"].tolist() == ["R2", "D1", "R1", "R2", "D1"]


def test_no_rules_no_action():
    assert credit_policy.hard_rules(FRAME, []).tolist() == [-1] * len(FRAME)


def test_rule_columns_are_read_from_the_rules_in_order():
    rules = [_rule("amount > 1"), _rule("channel is null"), _rule("amount<5"), _rule("customer_age is not null")]
    assert credit_policy.rule_columns(rules) == ["amount", "channel", "customer_age"]
    assert credit_policy.rule_columns([]) == []


def test_rule_on_an_unknown_column_names_it():
    with pytest.raises(ValueError, match="unknown column 'amout'"):
        credit_policy.hard_rules(FRAME, [_rule("amount > 1"), _rule("amout > 100")])


def test_a_rule_on_a_column_the_dataset_lacks_is_rejected_with_the_spec(cards_spec):
    data = cards_spec.model_dump()
    data["policy"]["hard_rules"] = [{"when": "device_trusted == false", "action": "review", "code": "KV"}]
    assert DatasetSpec.model_validate(data).policy.hard_rules[0].parts == ("device_trusted", "==", "false")
    data["policy"]["hard_rules"].append({"when": "amout > 5000", "action": "review", "code": "TYPO"})
    with pytest.raises(ValidationError, match="hard rule 'amout > 5000' names unknown column 'amout'"):
        DatasetSpec.model_validate(data)


@pytest.mark.parametrize(("when", "message"), [
    ("transaction_date < soon", "'soon' is not a date"),
    ("transaction_date == 01/09/2026", "is not a date"),
    ("amount > lots", "'lots' is not a number"),
    ("channel > 3", "> needs a number or date column, 'channel' is category"),
])
def test_a_rule_comparing_a_column_with_the_wrong_kind_of_value_is_rejected(cards_spec, when, message):
    data = cards_spec.model_dump()
    data["policy"]["hard_rules"] = [{"when": when, "action": "review", "code": "X"}]
    with pytest.raises(ValidationError, match=message):
        DatasetSpec.model_validate(data)


def test_unreadable_rules_are_rejected_by_the_spec():
    for when in ("amount", "amount ~ 3", "> 100", "amount >"):
        with pytest.raises(ValidationError):
            _rule(when)
    with pytest.raises(ValidationError):
        HardRule(when="amount > 1", action="approve", code="X")  # rules can only decline or review


# ---- decide ----------------------------------------------------------------------------------------------

def test_hard_rules_decide_before_the_model():
    frame = pd.DataFrame({"amount": [10.0, 5_000.0, 20.0, 30.0, 7_000.0],
                          "country": ["fr", "fr", "other", "fr", "other"]})
    p = np.array([0.001, 0.001, 0.001, 0.5, 0.5])  # the model approves rows 0-2 and declines rows 3-4
    policy = Policy(hard_rules=[_rule("amount > 1000", "decline", "HR-AMOUNT"),
                                _rule("country == other", "review", "HR-COUNTRY")])
    out = credit_policy.decide(frame, p, 0.1, policy, BANDS)
    assert out["decision"].tolist() == ["approve", "decline", "review", "decline", "decline"]
    assert out["hard_rule"].tolist() == [np.nan, "HR-AMOUNT", "HR-COUNTRY", np.nan, "HR-AMOUNT"]
    # score and band come from the PD alone, whatever the rules say
    assert out["score"].tolist() == rating.to_score(p, policy).tolist()
    assert out["band"].tolist() == rating.to_band(p, out["score"], BANDS).tolist()
    plain = credit_policy.decide(frame, p, 0.1, Policy(), BANDS)
    assert plain["decision"].tolist() == ["approve", "approve", "approve", "decline", "decline"]
    assert plain["hard_rule"].isna().all()


def test_a_review_rule_never_softens_a_model_decline():
    frame = pd.DataFrame({"country": ["other", "other", "other", "fr"]})
    p = np.array([0.001, 0.07, 0.5, 0.5])  # the model: approve, review, decline, decline
    policy = Policy(hard_rules=[_rule("country == other", "review", "HR-COUNTRY")])
    out = credit_policy.decide(frame, p, 0.1, policy, BANDS)
    assert out["model_decision"].tolist() == ["approve", "review", "decline", "decline"]
    assert out["decision"].tolist() == ["review", "review", "decline", "decline"]
    assert out["hard_rule"].tolist() == ["HR-COUNTRY", "HR-COUNTRY", "HR-COUNTRY", np.nan]  # the rule still matched


def test_decide_with_score_cut_offs():
    p = np.array([_pd_at_odds(100), _pd_at_odds(50), _pd_at_odds(20)])  # scores 620, 600, 574
    out = credit_policy.decide(pd.DataFrame(index=range(3)), p, 0.5,
                     Policy(approve_min_score=610, decline_below_score=580), BANDS)
    assert out["score"].tolist() == [620, 600, 574]
    assert out["decision"].tolist() == ["approve", "review", "decline"]
    assert out["band"].tolist() == ["B", "B", "C"]


def test_decide_on_random_rows_keeps_decisions_consistent():
    rng = np.random.default_rng(7)
    n = 2_000
    frame = pd.DataFrame({"amount": rng.lognormal(3.4, 1.0, n), "hour": rng.integers(0, 24, n).astype(float)})
    frame.loc[rng.random(n) < 0.05, "hour"] = np.nan
    p = rng.beta(1, 30, n)
    policy = Policy(hard_rules=[_rule("amount > 300", "decline", "BIG"), _rule("hour < 6", "review", "NIGHT")])
    out = credit_policy.decide(frame, p, 0.05, policy, BANDS)
    big, night = frame.amount.to_numpy() > 300, frame.hour.to_numpy() < 6
    model = credit_policy.model_decision(p, out["score"], 0.05, policy)
    assert (out["decision"][big] == "decline").all() and (out["hard_rule"][big] == "BIG").all()
    assert (out["decision"][~big & night] != "approve").all() and (out["hard_rule"][~big & night] == "NIGHT").all()
    night_only = ~big & night
    assert ((out["decision"][night_only] == "decline") == (model[night_only] == "decline")).all()
    rest = ~big & ~night
    assert (out["decision"][rest] == model[rest]).all() and out["hard_rule"][rest].isna().all()
    assert (out["model_decision"] == model).all()
    assert rest.sum() > 0.5 * n and (model[big] == "approve").any()  # the rule overrides some approvals


# ---- policy validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [{"approve_min_score": 620}, {"decline_below_score": 580}])
def test_only_one_cut_off_is_an_error(fields):
    with pytest.raises(ValidationError, match="give both approve_min_score and decline_below_score"):
        Policy(**fields)


@pytest.mark.parametrize("bands", [[], [{"name": "A", "min_score": 600}, {"name": "A", "min_score": 500}]])
def test_bands_need_distinct_names(bands):
    with pytest.raises(ValidationError, match="distinct names"):
        Policy(bands=bands)


def test_cut_offs_in_the_wrong_order_are_an_error():
    with pytest.raises(ValidationError, match="must not exceed"):
        Policy(approve_min_score=580, decline_below_score=620)


@pytest.mark.parametrize("fields", [{"review_fraction": 0}, {"review_fraction": 1.5}, {"reason_codes": "some"},
                                    {"unknown_field": 1}])
def test_other_invalid_policies(fields):
    with pytest.raises(ValidationError):
        Policy(**fields)
