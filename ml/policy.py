"""Credit policy as pure functions: hard rules and cut-off decisions, on the score and band of `ml.rating`.

Below the capability packages (like `ml.rating`): scoring decides with it, and training decides the candidate's
test rows with it for the fairness figures (approval rates per group), so both apply the same policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.rating import BandScale, to_band, to_score
from ml.spec import HardRule, Policy

DECISIONS = ("approve", "review", "decline")
_OPS: dict[str, Callable[[Any, Any], np.ndarray]] = {"<": np.less, "<=": np.less_equal, ">": np.greater,
                                                     ">=": np.greater_equal, "==": np.equal}


def model_decision(pd_: np.ndarray, score: np.ndarray, threshold: float, policy: Policy) -> pd.Categorical:
    """approve / review / decline from the score cut-offs, or from the model's threshold when none are set."""
    if policy.approve_min_score is not None and policy.decline_below_score is not None:
        decline = score < policy.decline_below_score
        review = score < policy.approve_min_score
    else:
        decline = pd_ >= threshold
        review = pd_ >= threshold * policy.review_fraction
    return _categorical(np.where(decline, 2, np.where(review, 1, 0)), DECISIONS)


def _categorical(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> "pd.Categorical[Any]":
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(names)))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _rule_mask(frame: pd.DataFrame, rule: HardRule) -> np.ndarray:
    col, op, value = rule.parts
    if col not in frame:
        raise ValueError(f"hard rule '{rule.when}' names unknown column '{col}'")
    series = frame[col]
    if op in ("is null", "is not null"):
        mask: np.ndarray = series.isna().to_numpy()
        return ~mask if op == "is not null" else mask
    if pd.api.types.is_datetime64_any_dtype(series):  # dates compare as dates, with every operator
        numbers: NDArray[np.float64] = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        numbers[series.isna().to_numpy()] = np.nan
        target = float(pd.Timestamp(value.strip("'\"")).value)
        with np.errstate(invalid="ignore"):
            if op == "!=":
                return np.not_equal(numbers, target) & ~np.isnan(numbers)
            return _OPS[op](numbers, target)
    if op in ("==", "!="):
        number = _number(value) if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
            else None
        equal: np.ndarray
        if number is not None:  # numbers compare as numbers: 'amount == 100' matches 100.0
            equal = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan) == number
        else:
            text = series.astype("string").str.casefold()
            equal = (text == value.strip("'\"").casefold()).fillna(False).to_numpy(dtype=bool)
        return equal if op == "==" else ~equal & series.notna().to_numpy()
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return _OPS[op](numbers, float(value))  # a missing value never satisfies a comparison


def rule_columns(rules: list[HardRule]) -> list[str]:
    """The columns the rules read, in order of first use."""
    return list(dict.fromkeys(rule.parts[0] for rule in rules))


def hard_rules(frame: pd.DataFrame, rules: list[HardRule]) -> np.ndarray:
    """Per row: the index of the first matching rule, -1 where none matches."""
    matched = np.full(len(frame), -1)
    for i, rule in enumerate(rules):
        matched[_rule_mask(frame, rule) & (matched < 0)] = i
    return matched


def decide(frame: pd.DataFrame, pd_: np.ndarray, threshold: float, policy: Policy, bands: BandScale) -> dict[str, Any]:
    """Score, band, the model's decision and the final one.

    Hard rules are checked before the model and can only make the decision stricter: the final decision is
    the more severe of the first matching rule's action and the model's (a review rule never turns a model
    decline into a review). `frame` needs only the columns the rules read (`rule_columns`), one row per PD.
    """
    score = to_score(pd_, policy)
    matched = hard_rules(frame, policy.hard_rules)
    actions = np.array([DECISIONS.index(r.action) for r in policy.hard_rules] + [-1])  # [-1]: no rule matched
    model = model_decision(pd_, score, threshold, policy)
    codes = list(dict.fromkeys(r.code for r in policy.hard_rules))
    rule_code = np.array([codes.index(r.code) for r in policy.hard_rules] + [-1])[matched]
    return {"score": score, "band": to_band(pd_, score, bands), "model_decision": model,
            "decision": _categorical(np.maximum(model.codes, actions[matched]), DECISIONS),  # codes rise with severity
            "hard_rule": _categorical(rule_code, codes)}
