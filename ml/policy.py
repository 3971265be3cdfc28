"""Credit policy as pure functions: points-to-double-odds score, bands, hard rules, cut-off decisions."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ml.spec import HardRule, Policy

_RULE = re.compile(r"^\s*(?P<col>[\w.-]+)\s*(?P<op><=|>=|==|!=|<|>|is not null|is null)\s*(?P<value>.*?)\s*$")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def to_score(pd_: np.ndarray, policy: Policy) -> np.ndarray:
    """Score = offset + factor * ln(good:bad odds), factor = pdo / ln 2; rounded to whole points."""
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-9, 1 - 1e-9)
    factor = policy.pdo / math.log(2)
    offset = policy.base_score - factor * math.log(policy.base_odds)
    return np.rint(offset + factor * np.log((1 - p) / p)).astype(np.int32)


def to_band(score: np.ndarray, policy: Policy) -> np.ndarray:
    """Name of the highest band whose minimum the score reaches."""
    bands = sorted(policy.bands, key=lambda b: b.min_score, reverse=True)
    out = np.full(len(score), bands[-1].name, dtype=object)
    for band in reversed(bands):  # lowest first, so higher bands overwrite
        out[score >= band.min_score] = band.name
    return out


def model_decision(pd_: np.ndarray, score: np.ndarray, threshold: float, policy: Policy) -> np.ndarray:
    """approve / review / decline from the score cut-offs, or from the model's threshold when none are set."""
    if policy.approve_min_score is not None and policy.decline_below_score is not None:
        decline = score < policy.decline_below_score
        review = ~decline & (score < policy.approve_min_score)
    else:
        decline = pd_ >= threshold
        review = ~decline & (pd_ >= threshold * policy.review_fraction)
    return np.where(decline, "decline", np.where(review, "review", "approve")).astype(object)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _rule_mask(frame: pd.DataFrame, rule: HardRule) -> np.ndarray:
    m = _RULE.match(rule.when)
    if m is None:
        raise ValueError(f"cannot read hard rule '{rule.when}'")
    col, op, value = m.group("col"), m.group("op"), m.group("value")
    if col not in frame:
        raise ValueError(f"hard rule '{rule.when}' names unknown column '{col}'")
    series = frame[col]
    if op in ("is null", "is not null"):
        mask = series.isna().to_numpy()
        return ~mask if op == "is not null" else mask
    if op in ("==", "!="):
        number = _number(value) if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
            else None
        if number is not None:  # numbers compare as numbers: 'amount == 100' matches 100.0
            equal = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan) == number
        else:
            text = series.astype("string").str.casefold()
            equal = (text == value.strip("'\"").casefold()).fillna(False).to_numpy(dtype=bool)
        return equal if op == "==" else ~equal & series.notna().to_numpy()
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return _OPS[op](numbers, float(value))  # a missing value never satisfies a comparison


def hard_rules(frame: pd.DataFrame, rules: list[HardRule]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the action of the first matching rule (or None) and its code."""
    action = np.full(len(frame), None, dtype=object)
    code = np.full(len(frame), None, dtype=object)
    for rule in rules:
        hit = _rule_mask(frame, rule) & (action == None)  # noqa: E711 (elementwise)
        action[hit], code[hit] = rule.action, rule.code
    return action, code


def decide(frame: pd.DataFrame, pd_: np.ndarray, threshold: float, policy: Policy) -> dict[str, np.ndarray]:
    """Score, band and final decision; a matching hard rule decides before the model does."""
    score = to_score(pd_, policy)
    action, code = hard_rules(frame, policy.hard_rules)
    decision = np.where(action != None, action, model_decision(pd_, score, threshold, policy))  # noqa: E711
    return {"score": score, "band": to_band(score, policy), "decision": decision.astype(object), "hard_rule": code}
