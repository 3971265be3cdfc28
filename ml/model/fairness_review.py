"""What the approvers see of a candidate's fair lending and reasons (pure: data in, data out).

On the out-of-time test, each model (the challenger, and the champion when there is one) decides every row as
production would (`ml.policy.decide`: its threshold, the spec's cut-offs and hard rules); per attribute and group:
rows, approval rate, adverse impact ratio against the reference group with its interval, default rate and mean
PD, AUC where the group has enough bads (`ml.fairness`). The proxies of each attribute are read on the
development sample, the reasons' frequency on the challenger's explained test rows (`ml.reasons`). A challenger
with a judged group below the spec's minimum ratio is not recommended (`verdict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml import fairness, policy
from ml import reasons as reason_statements
from ml.json_values import finite
from ml.model.riskmodel import RiskModel
from ml.model.verdict import NOT_RECOMMENDED
from ml.rating import band_scale
from ml.spec import DatasetSpec


@dataclass(frozen=True)
class Review:
    """The candidate's fairness and reasons figures, as `candidate.json` keeps them under `fairness`."""

    min_ratio: float
    min_group_rows: int
    min_group_bads: int
    challenger: list[list[fairness.GroupRow]]  # per attribute of the spec, its groups (reference first)
    champion: list[list[fairness.GroupRow]] | None
    proxies: dict[str, list[fairness.Proxy]]  # attribute -> the features most associated with it
    below: list[str]  # the challenger's groups below the minimum ratio, one line each
    reasons: list[dict[str, Any]]  # ml.reasons.frequency on the challenger's explained test rows
    reasons_from_spec: bool  # False: the spec has no statements, the reasons are feature names
    explained_rows: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: NaN (a rate of an empty group, an AUC not computed) as null."""
        plain: dict[str, Any] = finite(asdict(self))
        return plain



def decisions(model: RiskModel, spec: DatasetSpec, rows: pd.DataFrame, p: np.ndarray) -> dict[str, Any]:
    """The policy's decisions of curated rows with the model's PDs `p` (`ml.policy.decide`)."""
    return policy.decide(rows[policy.rule_columns(spec.policy.hard_rules)], p, model.threshold, spec.policy,
                      band_scale(model.bands, spec.policy))


def _groups(spec: DatasetSpec, test: pd.DataFrame, decided: dict[str, Any], p: np.ndarray) -> list[list[fairness.GroupRow]]:
    return fairness.sample_fairness(spec, test, np.asarray(decided["decision"] == "approve"), test["label"].to_numpy(), p)


def review(spec: DatasetSpec, model: RiskModel, test: pd.DataFrame, p: np.ndarray, dev: pd.DataFrame,
           champion: tuple[RiskModel, np.ndarray] | None) -> Review:
    """The fairness and reasons figures of a candidate `model` with PDs `p` on the test sample; `champion` is
    the champion's model and PDs on the same rows (None: first model)."""
    decided = decisions(model, spec, test, p)
    challenger = _groups(spec, test, decided, p)
    champion_groups = None
    if champion is not None:
        champion_groups = _groups(spec, test, decisions(champion[0], spec, test, champion[1]), champion[1])
    features = model.pipeline.transform(dev)
    proxies = {a.column: fairness.proxies(features, fairness.group_codes(dev[a.column], a, spec)[0], spec.fairness.proxies,
                                    exclude=[a.column]) for a in spec.fairness.attributes}
    explained = decided["model_decision"].codes != 0 if spec.policy.reason_codes == "adverse" \
        else np.ones(len(p), bool)
    dictionary = reason_statements.Dictionary.of(spec, model.pipeline.order)
    test_features = model.pipeline.transform(test)
    statements = reason_statements.row_statements(dictionary, model.contributions(test_features.iloc[np.flatnonzero(explained)]),
                                   explained, decided["hard_rule"])
    return Review(spec.fairness.min_ratio, spec.fairness.min_group_rows, spec.fairness.min_group_bads, challenger,
                  champion_groups, proxies, [fairness.describe(r, spec.fairness) for rows in challenger
                                             for r in fairness.below_minimum(rows)],
                  reason_statements.frequency(statements, dictionary), dictionary.from_spec,
                  int((statements >= 0).any(axis=1).sum()))


def verdict(verdict_: str, reason: str, review_: Review) -> tuple[str, str]:
    """The candidate's verdict once fair lending is weighed: not recommended, saying why first, when a judged
    group's adverse impact ratio is below the minimum."""
    if not review_.below:
        return verdict_, reason
    why = (f"adverse impact ratio below the minimum {review_.min_ratio:g} for {'; '.join(review_.below)}")
    return NOT_RECOMMENDED, f"{why}; and on discrimination: {reason}"
