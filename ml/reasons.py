"""Reason statements: how the model's contributions become the reasons a declined customer reads (pure).

The spec's `reasons.statements` map model features (and hard rules, by code) to statements with a stable code
and a customer-readable text. A row's reasons are the statements that pushed its score most towards decline:
the contributions of the features of one statement are summed, statements with a positive sum are ranked by
it, the first `MAX_REASONS` kept (US Reg B: in practice up to four). A feature with no statement never becomes
a reason, and a protected attribute is never a model feature (the spec refuses one in a statement). When the
row's decision comes from a hard rule whose code has a statement, that statement is its first reason.

A spec without statements keeps the earlier behaviour: every feature is its own "statement", named by the
feature (`Dictionary.of` warns through `Dictionary.warning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ml.spec import DatasetSpec

if TYPE_CHECKING:
    import pandas as pd

MAX_REASONS = 4


@dataclass(frozen=True)
class Dictionary:
    """The statements reasons are drawn from, for one model: codes (the scores' vocabulary), texts, the
    statement of each model feature (-1: none) and of each hard rule code."""

    codes: tuple[str, ...]
    texts: tuple[str, ...]
    feature_statement: NDArray[np.int64]  # per feature of the model's order
    rule_statement: dict[str, int]  # hard rule code -> statement
    from_spec: bool  # False: no statements in the spec, the features stand for themselves

    @classmethod
    def of_features(cls, order: Sequence[str]) -> "Dictionary":
        """Every feature its own statement, named by the feature (a spec without statements)."""
        return cls(tuple(order), tuple(order), np.arange(len(order), dtype=np.int64), {}, False)

    @classmethod
    def of(cls, spec: DatasetSpec, order: Sequence[str]) -> "Dictionary":
        """The dictionary of a model with features `order` under the spec's statements."""
        statements = spec.reasons.statements
        if not statements:
            return cls.of_features(order)
        by_feature = {f: i for i, s in enumerate(statements) for f in s.features}
        return cls(tuple(s.code for s in statements), tuple(s.text for s in statements),
                   np.array([by_feature.get(f, -1) for f in order], dtype=np.int64),
                   {r: i for i, s in enumerate(statements) for r in s.rules}, True)

    def warning(self, dataset: str) -> str | None:
        """What to tell the user when the spec has no statements (None when it has)."""
        if self.from_spec:
            return None
        return (f"the spec of '{dataset}' has no reason statements (reasons.statements): reasons are the model's "
                "feature names, not texts a customer can read")

    def text(self, code: str) -> str:
        return self.texts[self.codes.index(code)]


def rank(contributions: NDArray[np.floating], dictionary: Dictionary, k: int = MAX_REASONS) -> NDArray[np.int32]:
    """Per row of a (rows x features) contribution matrix, the statements (indices into `dictionary.codes`)
    that push the score towards decline the most, strongest first: contributions summed per statement, only
    positive sums, -1 where fewer than k statements push it up."""
    rows = len(contributions)
    n = len(dictionary.codes)
    if rows == 0 or n == 0:
        return np.full((rows, k), -1, dtype=np.int32)
    mapped = dictionary.feature_statement >= 0
    summed = np.zeros((rows, n), dtype=np.float64)
    # features without a statement drop out here: they are never a reason
    np.add.at(summed.T, dictionary.feature_statement[mapped], np.asarray(contributions, np.float64)[:, mapped].T)
    width = min(k, n)
    top = np.argsort(-summed, axis=1, kind="stable")[:, :width].astype(np.int32)
    top[np.take_along_axis(summed, top, axis=1) <= 0] = -1
    return np.pad(top, ((0, 0), (0, k - width)), constant_values=-1) if width < k else top


def with_rules(ranked: NDArray[np.int32], rule_statements: NDArray[np.int64]) -> NDArray[np.int32]:
    """The ranked statements with each row's hard-rule statement (-1: none) first, the others after it in
    their order, without repeating it; as many columns as `ranked`."""
    k = ranked.shape[1]
    out = ranked.copy()
    for i in np.flatnonzero(np.asarray(rule_statements) >= 0):
        rule = int(rule_statements[i])
        rest = [int(s) for s in ranked[i] if s >= 0 and s != rule]
        out[i] = ([rule] + rest + [-1] * k)[:k]
    return out


def row_statements(dictionary: Dictionary, contributions: NDArray[np.floating], explained: NDArray[np.bool_],
                   rule_codes: "pd.Categorical", k: int = MAX_REASONS) -> NDArray[np.int32]:
    """Every row's reason statements (-1: none), as scoring writes them: `contributions` are those of the
    `explained` rows (in order), ranked (`rank`); a row whose hard rule (`rule_codes`, the policy's `hard_rule`)
    has a statement gets it first (`with_rules`: a matched rule always makes the decision adverse)."""
    out = np.full((len(explained), k), -1, dtype=np.int32)
    out[np.flatnonzero(explained)] = rank(contributions, dictionary, k)
    by_rule = np.array([dictionary.rule_statement.get(str(c), -1) for c in rule_codes.categories] + [-1], np.int64)
    return with_rules(out, by_rule[np.asarray(rule_codes.codes)])


def frequency(statements: NDArray[np.int32], dictionary: Dictionary) -> list[dict[str, object]]:
    """How often each statement is a reason among the explained rows (those with at least one): rows where it
    is the first reason and rows where it is one of them, as counts and shares, most frequent first."""
    explained = statements[(statements >= 0).any(axis=1)] if len(statements) else statements
    n = len(explained)
    first = np.bincount(explained[:, 0][explained[:, 0] >= 0], minlength=len(dictionary.codes)) if n else None
    anywhere = np.bincount(explained[explained >= 0], minlength=len(dictionary.codes)) if n else None
    out: list[dict[str, Any]] = []
    for i, code in enumerate(dictionary.codes):
        f, a = (int(first[i]), int(anywhere[i])) if n else (0, 0)  # type: ignore[index]  # arrays whenever n > 0
        if a:
            out.append({"code": code, "text": dictionary.texts[i], "first": f, "any": a,
                        "first_share": f / n, "any_share": a / n})
    return sorted(out, key=lambda r: (-int(r["first"]), -int(r["any"]), str(r["code"])))
