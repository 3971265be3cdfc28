"""What monitoring judges and when it alerts: the stability thresholds, the backtest's tests, and the fairness
attributes whose groups are compared."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ml.spec.base import Name, SpecModel, Text, shown


class Thresholds(SpecModel):
    """Traffic-light thresholds of a statistic: green below amber, amber from amber, red from red."""

    amber: float = Field(ge=0)
    red: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.amber > self.red:
            raise ValueError(f"amber ({self.amber}) must not exceed red ({self.red})")
        return self

    @property
    def pair(self) -> tuple[float, float]:
        return self.amber, self.red


class Backtest(SpecModel):
    """When the weekly backtest alerts the risk team (besides any rank-order inversion)."""

    alpha: float = Field(default=0.05, gt=0, lt=1)  # significance of the AUC-drop and Jeffreys tests
    max_rejected_bands: int = Field(default=1, ge=0)  # bands whose PD Jeffreys may reject without an alert


class Monitoring(SpecModel):
    """Stability thresholds of the dataset's models (used by monitoring, alerts and reports)."""

    psi: Thresholds = Thresholds(amber=0.10, red=0.25)  # the score's PSI and every feature's CSI
    ks: Thresholds = Thresholds(amber=0.10, red=0.20)  # two-sample KS statistic of a numeric feature
    js: Thresholds = Thresholds(amber=0.10, red=0.20)  # Jensen-Shannon distance of a feature's bins
    min_rows: int = Field(default=500, ge=1)  # a window with fewer rows is "too few rows", not judged
    retrain_on_red_features: int = Field(default=3, ge=1)  # red features that trigger a retraining
    backtest: Backtest = Backtest()


MISSING_GROUP = "(missing)"  # the group of rows whose attribute is missing


class GroupBand(SpecModel):
    """One group of a numeric attribute: the values below `below` and at or above the previous band's bound
    (the last band has no `below`: every value from the previous bound up)."""

    name: Name
    below: float | None = None


class FairnessAttribute(SpecModel):
    """A column whose groups are compared: protected (kept in curated data for monitoring, never a model input
    nor a reason) or monitored (may stay a model input, e.g. age where the law allows it; still analysed).
    Groups: the bands of a numeric column, the categories of a category column, true/false of a bool, the
    values of a text column; rows missing the value are the group MISSING_GROUP. `reference` names the group
    every other one is compared with."""

    column: Name
    kind: Literal["protected", "monitored"]
    reference: Text
    bands: list[GroupBand] | None = Field(default=None, min_length=2, max_length=20)

    @model_validator(mode="after")
    def _check(self) -> "FairnessAttribute":
        if self.bands is None:
            return self
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"fairness attribute '{self.column}': band names must be distinct, got {shown(names)}")
        bounds = [b.below for b in self.bands[:-1]]
        if any(b is None for b in bounds) or self.bands[-1].below is not None:
            raise ValueError(f"fairness attribute '{self.column}': every band but the last needs 'below', the last "
                             "none (it holds every value from the previous bound up)")
        given = [b for b in bounds if b is not None]  # all of them, as just checked
        if given != sorted(set(given)):
            raise ValueError(f"fairness attribute '{self.column}': band bounds must rise, got {shown(bounds)}")
        return self


class Fairness(SpecModel):
    """Which columns' groups are compared (approval rates, adverse impact ratio, default rates, AUC), and when
    a ratio is too low: below `min_ratio` a challenger is not recommended and monitoring alerts. A group with
    fewer than `min_group_rows` rows (or its reference group) is shown, not judged; AUC by group needs
    `min_group_bads` positive and as many negative outcomes."""

    min_ratio: float = Field(default=0.8, gt=0, le=1)
    min_group_rows: int = Field(default=50, ge=1, le=100_000_000)
    min_group_bads: int = Field(default=10, ge=1, le=100_000_000)
    proxies: int = Field(default=5, ge=0, le=50)  # features most associated with each attribute, listed
    attributes: list[FairnessAttribute] = Field(default_factory=list, max_length=20)

