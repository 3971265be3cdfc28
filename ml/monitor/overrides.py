"""The reviewers against the model: per score band and overall, of the rows the policy sent to review, the
share a reviewer decided and the override rate, and on matured rows the default rate of the rows reviewers
approved beside that of the rows the policy approved without review in the same band.

The model's suggestion for a row sent to review is the model's own yes/no at its threshold, before the
review zone and the hard rules route it: approve when the row's PD is below the version's threshold (the
cut-off stored with the model), decline at or above it. A reviewer overrides when they decide
otherwise. Rows decided by the fallback policy (no model) have no suggestion and are not read here.

Pure functions on arrays; the backtest feeds them one scored day at a time (`add_reviews`, `add_outcomes`)
and `summarise` turns the counts into rates and alerts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ml.spec import OverrideRate

ALL = "all"  # the band name of the overall row
NO_DECISION, DECLINE, APPROVE = -1, 0, 1  # reviewer codes


@dataclass
class BandCounts:
    """Additive counts of one band."""

    sent: int = 0  # rows the policy sent to review
    decided: int = 0  # of them, decided by a reviewer
    overridden: int = 0  # decided against the model's suggestion
    reviewer_approved: int = 0
    matured_reviewer_approved: int = 0  # reviewer-approved rows with a known outcome
    reviewer_approved_defaults: int = 0
    matured_model_approved: int = 0  # rows the policy approved without review, with a known outcome
    model_approved_defaults: int = 0

    def merge(self, other: "BandCounts") -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


Counts = dict[str, BandCounts]


def suggestion(pd_: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """True where the model suggests approve: its PD is below the version's threshold."""
    return np.asarray(pd_ < threshold, dtype=bool)


def _by_band(counts: Counts, codes: NDArray[np.int64], names: list[str],
             **columns: NDArray[np.bool_] | NDArray[np.int64]) -> None:
    k = len(names)
    sums = {name: np.bincount(codes, weights=np.asarray(v, dtype=float), minlength=k) for name, v in columns.items()}
    for i in range(k):
        values = {name: int(round(s[i])) for name, s in sums.items()}
        if any(values.values()):
            band = counts.setdefault(names[i], BandCounts())
            band.merge(BandCounts(**values))


def add_reviews(counts: Counts, band_codes: NDArray[np.int64], band_names: list[str], sent: NDArray[np.bool_],
                suggest_approve: NDArray[np.bool_], reviewer: NDArray[np.int64]) -> None:
    """Count a day's rows sent to review (`sent`), those a reviewer decided (`reviewer`: APPROVE, DECLINE or
    NO_DECISION per row) and those decided against the model's suggestion, per band."""
    decided = sent & (reviewer != NO_DECISION)
    approved = decided & (reviewer == APPROVE)
    overridden = decided & (approved != suggest_approve)
    _by_band(counts, band_codes, band_names, sent=sent, decided=decided, overridden=overridden,
             reviewer_approved=approved)


def add_outcomes(counts: Counts, band_codes: NDArray[np.int64], band_names: list[str],
                 model_approved: NDArray[np.bool_], reviewer_approved: NDArray[np.bool_], y: NDArray[np.int64]) -> None:
    """Count a day's matured rows with a known outcome `y` (1 default): those the policy approved without review
    and those a reviewer approved, with their defaults, per band."""
    bad = np.asarray(y, dtype=bool)
    _by_band(counts, band_codes, band_names, matured_model_approved=model_approved,
             model_approved_defaults=model_approved & bad, matured_reviewer_approved=reviewer_approved,
             reviewer_approved_defaults=reviewer_approved & bad)


@dataclass(frozen=True)
class OverrideRow:
    """One band's (or ALL's) figures; a rate without rows to divide by is NaN."""

    band: str
    sent: int
    decided: int
    decided_share: float
    overridden: int
    override_rate: float
    reviewer_approved: int
    matured_reviewer_approved: int
    reviewer_approved_default_rate: float
    matured_model_approved: int
    model_approved_default_rate: float


@dataclass(frozen=True)
class Overrides:
    bands: list[OverrideRow]
    overall: OverrideRow
    # the spec's expected range of the overall override rate and the decided reviews it needs (None: not judged)
    expected_min: float | None
    expected_max: float | None
    min_decided: int | None
    alerts: list[str]

    @property
    def judged(self) -> bool:
        """Whether the overall override rate was held against the spec's range."""
        return self.min_decided is not None and self.overall.decided >= self.min_decided


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _row(band: str, c: BandCounts) -> OverrideRow:
    return OverrideRow(band, c.sent, c.decided, _rate(c.decided, c.sent), c.overridden, _rate(c.overridden, c.decided),
                       c.reviewer_approved, c.matured_reviewer_approved,
                       _rate(c.reviewer_approved_defaults, c.matured_reviewer_approved), c.matured_model_approved,
                       _rate(c.model_approved_defaults, c.matured_model_approved))


def summarise(counts: Counts, expected: OverrideRate | None) -> Overrides:
    """Rates per band (in band order) and overall; an alert when the overall override rate is outside the
    spec's range once at least `min_decided` reviews were decided."""
    total = BandCounts()
    for c in counts.values():
        total.merge(c)
    overall = _row(ALL, total)
    alerts = []
    if expected is not None and overall.decided >= expected.min_decided and not (
            expected.min <= overall.override_rate <= expected.max):
        alerts.append(f"reviewers overrode the model on {overall.override_rate:.1%} of {overall.decided} decided "
                      f"reviews, outside the expected {expected.min:.0%} to {expected.max:.0%}")
    return Overrides([_row(b, counts[b]) for b in sorted(counts)], overall,
                     expected_min=expected.min if expected else None, expected_max=expected.max if expected else None,
                     min_decided=expected.min_decided if expected else None, alerts=alerts)
