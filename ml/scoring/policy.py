"""Credit policy as pure functions: points-to-double-odds score, bands (derived at training and stored with the
model), hard rules, cut-off decisions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ml.data.spec import Bands, HardRule, Policy

DECISIONS = ("approve", "review", "decline")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal}


def to_score(pd_: np.ndarray, policy: Policy) -> np.ndarray:
    """Score = offset + factor * ln(good:bad odds), factor = pdo / ln 2; rounded to whole points."""
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-9, 1 - 1e-9)
    factor = policy.pdo / math.log(2)
    offset = policy.base_score - factor * math.log(policy.base_odds)
    return np.rint(offset + factor * np.log((1 - p) / p)).astype(np.int32)


@dataclass(frozen=True)
class BandScale:
    """The bands a model scores with, best first: per band its PD upper bound (`by` pd: a row gets the first
    band whose bound its PD does not exceed) or its minimum score (`by` score)."""

    names: tuple[str, ...]
    by: Literal["pd", "score"]
    bounds: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "by": self.by, "bounds": list(self.bounds)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BandScale":
        return cls(names=tuple(data["names"]), by=data["by"], bounds=tuple(float(b) for b in data["bounds"]))


# what models trained before bands were stored with them were scored with
LEGACY_BANDS = BandScale(names=("A", "B", "C", "D", "E"), by="score", bounds=(640, 600, 560, 520, float("-inf")))


def derive_bands(spec: Bands, pd_dev: np.ndarray | None = None) -> BandScale:
    """The band scale of a new model: PD quantiles of its development sample (equal shares; rows with the same
    PD share a band), or the spec's fixed master scale or score bands."""
    names = tuple(spec.band_names)
    if spec.method == "score":
        return BandScale(names, "score", tuple(b.min_score for b in spec.score_bands or []))
    if spec.method == "master_scale":
        return BandScale(names, "pd", tuple(b.max_pd for b in spec.master_scale or []))
    p = np.sort(np.asarray(pd_dev if pd_dev is not None else [], dtype=np.float64))
    if not len(p):
        raise ValueError("PD quantile bands need the development sample's PDs")
    n = len(names)
    cuts = [float(p[math.ceil(i * len(p) / n) - 1]) for i in range(1, n)]
    return BandScale(names, "pd", (*cuts, 1.0))


def band_scale(stored: dict[str, Any] | None, policy: Policy) -> BandScale:
    """The scale a model scores with: the one stored with it; a model stored without one keeps the fixed
    scale of the spec, or the score bands it was trained with (LEGACY_BANDS)."""
    if stored:
        return BandScale.from_dict(stored)
    return LEGACY_BANDS if policy.bands.method == "pd_quantiles" else derive_bands(policy.bands)


def to_band(pd_: np.ndarray, score: np.ndarray, bands: BandScale) -> pd.Categorical:
    """Band of each row: by PD, the first band whose upper bound the PD does not exceed; by score, the highest
    band whose minimum the score reaches (the lowest band below every minimum)."""
    if bands.by == "pd":
        codes = np.minimum(np.searchsorted(np.asarray(bands.bounds), np.asarray(pd_, dtype=np.float64), side="left"),
                           len(bands.names) - 1)
        return _categorical(codes, bands.names)
    ascending = sorted(range(len(bands.names)), key=lambda i: bands.bounds[i])
    minimums = np.array([bands.bounds[i] for i in ascending])
    reached = np.maximum(np.searchsorted(minimums, score, side="right") - 1, 0)
    return _categorical(np.array(ascending)[reached], bands.names)


def model_decision(pd_: np.ndarray, score: np.ndarray, threshold: float, policy: Policy) -> pd.Categorical:
    """approve / review / decline from the score cut-offs, or from the model's threshold when none are set."""
    if policy.approve_min_score is not None and policy.decline_below_score is not None:
        decline = score < policy.decline_below_score
        review = score < policy.approve_min_score
    else:
        decline = pd_ >= threshold
        review = pd_ >= threshold * policy.review_fraction
    return _categorical(np.where(decline, 2, np.where(review, 1, 0)), DECISIONS)


def _categorical(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> pd.Categorical:
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
        mask = series.isna().to_numpy()
        return ~mask if op == "is not null" else mask
    if pd.api.types.is_datetime64_any_dtype(series):  # dates compare as dates, with every operator
        numbers = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        numbers[series.isna().to_numpy()] = np.nan
        target = float(pd.Timestamp(value.strip("'\"")).value)
        with np.errstate(invalid="ignore"):
            if op == "!=":
                return (numbers != target) & ~np.isnan(numbers)
            return _OPS[op](numbers, target)
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
