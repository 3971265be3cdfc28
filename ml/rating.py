"""The rating scale: how a PD becomes a score (points to double the odds) and a band (PD quantiles of the
development sample, a fixed master scale or score bands; derived at training and stored with the model).

It sits below both packages that use it, so neither imports the other for it: `ml.model` derives a model's
bands when training and reports them; `ml.scoring` applies them with the credit policy (`ml.policy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ml.spec import Bands, Policy


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


def _categorical(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> "pd.Categorical[Any]":
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(names)))
