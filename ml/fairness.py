"""Fair-lending statistics (pure: arrays in, numbers out), shared by training (the candidate), stability (the
nightly decisions per group) and the backtest (outcomes per group).

The spec's `fairness.attributes` name the columns whose groups are compared (`group_codes`). Everything is kept
as counts per group (`GroupCounts`: rows, approvals, outcomes, PD sum), so days merge into weeks and months by
adding, and `judge` turns counts into the figures a reviewer reads (`GroupRow`):

- **approval rate** of a group: its approved rows / its rows ("approve" decisions; review and decline are not
  approvals);
- **adverse impact ratio** (AIR): a group's approval rate / the reference group's, with a 95% interval on the log
  scale (Katz's interval of a ratio of two independent proportions: se(log AIR)^2 = 1/a - 1/n + 1/a0 - 1/n0 for
  a of n approved in the group and a0 of n0 in the reference; when a group approves nobody, half a row is added
  to each cell of the two groups' tables for the interval only, Haldane-Anscombe). The ratio is skewed but its
  log is close to normal, the interval has a closed form that merges from counts, and it is what epidemiology
  uses for a risk ratio (D. Katz, J. Baptista, S. P. Azen, M. C. Pike, "Obtaining confidence intervals for the
  risk ratio in cohort studies", Biometrics 34, 1978). A judged group is red when its ratio is below the spec's
  `min_ratio` (the four-fifths rule's 0.8) and its whole interval too, amber when only the ratio is
  (`ratio_light`): a light goes red on evidence at the window's size, not on a point estimate;
- **default rate** and **mean PD** of a group (calibration by group), and the **approved-book bad rate** (the
  default rate among its approved rows) where outcomes are known;
- **AUC by group** with DeLong's interval (`ml.ranking`) where the group has enough bads and goods;
- **proxies** (`proxies`): the model features most associated with an attribute on the development sample,
  Cramer's V (scipy) and mutual information (scikit-learn, in nats) of the feature's deciles (or categories)
  against the attribute's groups.

A group with fewer than `min_group_rows` rows, or compared with a reference group that small, is shown but not
judged ("too few rows").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from ml.ranking import Z95, auc_variance, rank_counts
from ml.spec import MISSING_GROUP, DatasetSpec, Fairness, FairnessAttribute

GREEN, AMBER, RED = "green", "amber", "red"  # as ml.bins grades
TOO_FEW_ROWS = "too few rows"
REFERENCE = "reference"


# ---------------------------------------------------------------------------------------------- groups

def _series(values: Any) -> pd.Series:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        series: pd.Series = values.to_pandas()
        return series
    return values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)


def group_codes(values: Any, attribute: FairnessAttribute, spec: DatasetSpec) -> tuple[NDArray[np.int64], list[str]]:
    """Per row, the index of its group in the returned group names (the spec's groups of the attribute,
    MISSING_GROUP last; a text column's groups are its sorted values)."""
    series = _series(values)
    missing = series.isna().to_numpy()
    if attribute.bands is not None:
        names = [b.name for b in attribute.bands] + [MISSING_GROUP]
        bounds = np.array([b.below for b in attribute.bands[:-1]], dtype=float)
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        codes = np.searchsorted(bounds, x, side="right").astype(np.int64)  # below the first bound: 0
        codes[missing | np.isnan(x)] = len(names) - 1
        return codes, names
    text = series.astype("string").str.lower() if pd.api.types.is_bool_dtype(series) else series.astype("string")
    names = spec.groups(attribute) or sorted(set(text.dropna())) + [MISSING_GROUP]
    unlisted = sorted(set(text.dropna()) - set(names))
    if unlisted:  # a value the spec does not list (curated data never holds one) is a group of its own
        names = names[:-1] + unlisted + [MISSING_GROUP]
    listed = text.map({name: i for i, name in enumerate(names)}).to_numpy(dtype=float, na_value=np.nan)
    listed[missing] = len(names) - 1
    return listed.astype(np.int64), names


# ---------------------------------------------------------------------------------------------- counts

@dataclass
class Cell:
    """Additive counts of one group: rows, approved rows; and where outcomes are known, bads, approved bads and
    the PD sum (`labelled` rows of them)."""

    rows: int = 0
    approved: int = 0
    labelled: int = 0
    bads: int = 0
    approved_labelled: int = 0
    approved_bads: int = 0
    pd_sum: float = 0.0

    def add(self, other: "Cell") -> None:
        for name in asdict(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class GroupCounts:
    """One attribute's counts per group (group name -> Cell), in the group order."""

    attribute: str
    kind: str  # protected / monitored
    reference: str
    cells: dict[str, Cell] = field(default_factory=dict)

    def merge(self, other: "GroupCounts") -> None:
        for name, cell in other.cells.items():
            self.cells.setdefault(name, Cell()).add(cell)

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "kind": self.kind, "reference": self.reference,
                "cells": {k: asdict(v) for k, v in self.cells.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GroupCounts":
        return cls(data["attribute"], data["kind"], data["reference"],
                   {k: Cell(**v) for k, v in data["cells"].items()})


def count_groups(codes: ArrayLike, names: Sequence[str], attribute: FairnessAttribute, approved: ArrayLike,
                 y: ArrayLike | None = None, pd_: ArrayLike | None = None) -> GroupCounts:
    """Counts per group of rows with their group codes, approvals and, when known, outcomes (1 bad, 0 good) and
    PDs. Groups without rows are left out, except the reference group."""
    c = np.asarray(codes, dtype=np.int64)
    k = len(names)
    a = np.asarray(approved, dtype=bool)
    rows, approvals = np.bincount(c, minlength=k), np.bincount(c, a, minlength=k)
    out = GroupCounts(attribute.column, attribute.kind, attribute.reference)
    if y is not None:
        yy = np.asarray(y, dtype=np.int64)
        p = np.zeros(len(c)) if pd_ is None else np.asarray(pd_, dtype=float)
        bads, pds = np.bincount(c, yy, minlength=k), np.bincount(c, p, minlength=k)
        approved_bads = np.bincount(c, yy * a, minlength=k)
    for i, name in enumerate(names):
        if rows[i] == 0 and name != attribute.reference:
            continue
        cell = Cell(int(rows[i]), int(round(approvals[i])))
        if y is not None:
            cell.labelled, cell.bads, cell.pd_sum = int(rows[i]), int(round(bads[i])), float(pds[i])
            cell.approved_labelled, cell.approved_bads = cell.approved, int(round(approved_bads[i]))
        out.cells[name] = cell
    return out


# ---------------------------------------------------------------------------------------------- judging

def impact_ratio(approved: int, rows: int, reference_approved: int, reference_rows: int,
                 z: float = Z95) -> tuple[float, float, float]:
    """(ratio, low, high): a group's approval rate over the reference group's with Katz's log interval (see the
    module); NaN when either group has no rows or the reference approves nobody."""
    if rows <= 0 or reference_rows <= 0 or reference_approved <= 0:
        return math.nan, math.nan, math.nan
    ratio = (approved / rows) / (reference_approved / reference_rows)
    a, n, a0, n0 = float(approved), float(rows), float(reference_approved), float(reference_rows)
    if a == 0:  # Haldane-Anscombe: half a row in each cell of both tables, for the interval only
        a, n, a0, n0 = a + 0.5, n + 1.0, a0 + 0.5, n0 + 1.0
    centre = math.log((a / n) / (a0 / n0))
    se = math.sqrt(max(1 / a - 1 / n + 1 / a0 - 1 / n0, 0.0))
    return ratio, math.exp(centre - z * se), math.exp(centre + z * se)


@dataclass(frozen=True)
class GroupRow:
    """What a reviewer reads of one group; rates are fractions, NaN where undefined."""

    attribute: str
    kind: str
    group: str
    reference: bool
    rows: int
    approved: int
    approval_rate: float
    ratio: float  # adverse impact ratio against the reference group (1 for the reference itself)
    ratio_low: float
    ratio_high: float
    light: str | None  # green / amber / red against min_ratio (`ratio_light`); "too few rows"; None for the reference
    labelled: int = 0
    bads: int = 0
    default_rate: float = math.nan
    mean_pd: float = math.nan
    approved_bad_rate: float = math.nan  # the default rate of the group's approved book
    auc: float = math.nan
    auc_low: float = math.nan
    auc_high: float = math.nan


def ratio_light(ratio: float, high: float, min_ratio: float) -> str:
    """The light of a judged group on evidence: red when the ratio is below the minimum and its whole 95%
    interval too (Katz et al. 1978; the window's size speaks through the interval's width), amber when only the
    point estimate is below, else green."""
    if not ratio < min_ratio:
        return GREEN
    return RED if high < min_ratio else AMBER


def _rate(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def judge(counts: GroupCounts, fairness: Fairness, aucs: Mapping[str, tuple[float, float, float]] | None = None
          ) -> list[GroupRow]:
    """Every group's figures, the reference group first; `aucs` (group -> auc, low, high) where computed."""
    ref = counts.cells.get(counts.reference, Cell())
    ordered = [counts.reference] + [g for g in counts.cells if g != counts.reference]
    out = []
    for group in ordered:
        cell = counts.cells.get(group, Cell())
        is_ref = group == counts.reference
        ratio, low, high = (1.0, 1.0, 1.0) if is_ref and ref.approved else impact_ratio(
            cell.approved, cell.rows, ref.approved, ref.rows)
        judged = min(cell.rows, ref.rows) >= fairness.min_group_rows and math.isfinite(ratio)
        light = None if is_ref else TOO_FEW_ROWS if not judged else ratio_light(ratio, high, fairness.min_ratio)
        auc = (aucs or {}).get(group, (math.nan, math.nan, math.nan))
        out.append(GroupRow(
            counts.attribute, counts.kind, group, is_ref, cell.rows, cell.approved, _rate(cell.approved, cell.rows),
            ratio, low, high, light, cell.labelled, cell.bads, _rate(cell.bads, cell.labelled),
            _rate(cell.pd_sum, cell.labelled), _rate(cell.approved_bads, cell.approved_labelled), *auc))
    return out


def group_aucs(codes: ArrayLike, names: Sequence[str], y: ArrayLike, p: ArrayLike, min_bads: int
               ) -> dict[str, tuple[float, float, float]]:
    """AUC and its 95% DeLong interval of each group with at least `min_bads` bads and as many goods."""
    c, yy, pp = np.asarray(codes), np.asarray(y, dtype=np.int64), np.asarray(p, dtype=float)
    out = {}
    for i, name in enumerate(names):
        mask = c == i
        bads = int(yy[mask].sum())
        if bads >= min_bads and int(mask.sum()) - bads >= min_bads:
            auc = auc_variance(rank_counts(pp[mask], yy[mask]))
            out[name] = (auc.auc, *auc.interval())
    return out


def below_minimum(rows: Iterable[GroupRow]) -> list[GroupRow]:
    """The judged groups whose ratio is below the minimum (light amber or red: the point estimate is below)."""
    return [r for r in rows if r.light in (AMBER, RED)]


def describe(row: GroupRow, fairness: Fairness) -> str:
    """One line about a group below the minimum ratio, for verdicts, alerts and consoles."""
    # as many digits as tell the ratio from the minimum: 0.797 is "0.797 below 0.8", never "0.80 below 0.8"
    digits = next((d for d in range(2, 7) if f"{row.ratio:.{d}f}" != f"{fairness.min_ratio:.{d}f}"), 6)
    return (f"{row.attribute} group '{row.group}': approval rate {row.approval_rate:.1%} of {row.rows} rows, adverse "
            f"impact ratio {row.ratio:.{digits}f} (95% CI {row.ratio_low:.2f} to {row.ratio_high:.2f}) below "
            f"{fairness.min_ratio:g}")


# ---------------------------------------------------------------------------------------------- proxies

def _binned(column: pd.Series, bins: int = 10) -> NDArray[np.int64]:
    """Codes of a feature's deciles (numbers) or categories, missing values in a bin of their own."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        return np.where(codes < 0, len(column.cat.categories), codes)
    x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = x[~np.isnan(x)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else np.zeros(0)
    codes = np.searchsorted(edges, x, side="right").astype(np.int64)
    codes[np.isnan(x)] = len(edges) + 1
    return codes


def association(feature_codes: ArrayLike, group_codes_: ArrayLike) -> tuple[float, float]:
    """(Cramer's V, mutual information in nats) of two coded variables, from their contingency table."""
    from scipy.stats.contingency import association as scipy_association
    from scipy.stats.contingency import crosstab
    from sklearn.metrics import mutual_info_score

    table = crosstab(np.asarray(feature_codes), np.asarray(group_codes_)).count
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0, 0.0
    return float(scipy_association(table, method="cramer")), float(mutual_info_score(None, None, contingency=table))


@dataclass(frozen=True)
class Proxy:
    feature: str
    cramers_v: float
    mutual_information: float


def proxies(features: pd.DataFrame, codes: ArrayLike, top: int, exclude: Sequence[str] = ()) -> list[Proxy]:
    """The `top` model features most associated with an attribute's groups (Cramer's V, then the name)."""
    found = [Proxy(name, *association(_binned(features[name]), codes))
             for name in features.columns if name not in exclude]
    return sorted(found, key=lambda p: (-p.cramers_v, p.feature))[:top]


# ---------------------------------------------------------------------------------------------- one sample

def sample_fairness(spec: DatasetSpec, curated: pd.DataFrame, approved: ArrayLike, y: ArrayLike | None = None,
                    pd_: ArrayLike | None = None) -> list[list[GroupRow]]:
    """Every attribute's group rows of one labelled sample (e.g. a model's out-of-time test), AUC by group
    included where the outcomes and PDs are given."""
    out = []
    for attribute in spec.fairness.attributes:
        codes, names = group_codes(curated[attribute.column], attribute, spec)
        counts = count_groups(codes, names, attribute, approved, y, pd_)
        aucs = group_aucs(codes, names, y, pd_, spec.fairness.min_group_bads) if y is not None and pd_ is not None \
            else None
        out.append(judge(counts, spec.fairness, aucs))
    return out
