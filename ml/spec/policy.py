"""How a PD becomes a decision (score scale, bands, cut-offs, hard rules) and the reason statements that explain
it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ml.spec.base import MAX_NAME, MAX_TEXT, Name, SpecModel, Text, bounded_list, shown

_RULE = re.compile(r"^\s*(?P<col>[\w.-]+)\s*(?P<op><=|>=|==|!=|<|>|is not null|is null)\s*(?P<value>.*?)\s*$")


class HardRule(SpecModel):
    """A business rule applied before the model: `when` is '<column> <op> <value>' or '<column> is null'."""

    when: str
    action: Literal["decline", "review"]
    code: Name

    @field_validator("when")
    @classmethod
    def _readable(cls, when: str) -> str:
        m = _RULE.match(when)
        if m is None or m["op"].startswith("is") == bool(m["value"]):
            raise ValueError(f"cannot read rule {shown(when)}: write '<column> <op> <value>' with op one of "
                             "< <= > >= == !=, or '<column> is null' / '<column> is not null'")
        return when

    @property
    def parts(self) -> tuple[str, str, str]:
        """(column, operator, value); value is '' for the null tests."""
        m = _RULE.match(self.when)
        assert m is not None  # checked by _readable
        return m["col"], m["op"], m["value"]


class ScoreBand(SpecModel):
    name: Name
    min_score: float


class PdBand(SpecModel):
    name: Name
    max_pd: float = Field(gt=0, le=1)


class Bands(SpecModel):
    """How rows are banded. pd_quantiles (default): at training, PD cut-offs that split the development sample
    into equal shares, best band first, stored with the model; master_scale: fixed PD upper bounds; score: fixed
    minimum scores."""

    method: Literal["pd_quantiles", "master_scale", "score"] = "pd_quantiles"
    # pd_quantiles, best first
    names: list[Annotated[Text, Field(max_length=MAX_NAME)]] = Field(default_factory=lambda: ["A", "B", "C", "D", "E"],
                                                                     max_length=100)
    master_scale: list[PdBand] | None = Field(default=None, max_length=100)  # ascending max_pd, the last one 1
    score_bands: list[ScoreBand] | None = Field(default=None, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _score_list(cls, data: Any) -> Any:
        # the earlier form `bands: [{name, min_score}, ...]`
        return {"method": "score", "score_bands": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _check(self) -> "Bands":
        own = {"pd_quantiles": "names", "master_scale": "master_scale", "score": "score_bands"}[self.method]
        self._useless({"method", own}, f"{self.method} bands")
        if self.method == "master_scale":
            bounds = [b.max_pd for b in self.master_scale or []]
            if not bounds or bounds != sorted(set(bounds)) or bounds[-1] != 1:
                raise ValueError("master_scale needs bands in ascending max_pd, distinct, the last one 1")
        names = self.band_names
        if not names or len(set(names)) != len(names):
            raise ValueError(f"bands need at least one band and distinct names, got {shown(names)}")
        return self

    @property
    def band_names(self) -> list[str]:
        if self.method == "master_scale":
            return [b.name for b in self.master_scale or []]
        if self.method == "score":
            return [b.name for b in self.score_bands or []]
        return list(self.names)


class Policy(SpecModel):
    """How a probability becomes a score, a band and a decision."""

    base_score: float = Field(default=600.0, ge=-100_000, le=100_000)  # score at base_odds (good:bad)
    base_odds: float = Field(default=50.0, gt=0, le=1e9)
    pdo: float = Field(default=20.0, gt=0, le=10_000)  # points to double the odds
    bands: Bands = Field(default_factory=Bands)
    # Score cut-offs; when absent, the model's own threshold decides: decline at PD >= threshold, review at
    # PD >= review_fraction * threshold.
    approve_min_score: float | None = None
    decline_below_score: float | None = None
    review_fraction: float = Field(default=0.6, gt=0, le=1)
    hard_rules: list[HardRule] = bounded_list(list)
    # Reason codes for declined and reviewed rows (the adverse actions that must be explained), or all rows.
    reason_codes: Literal["adverse", "all"] = "adverse"

    @model_validator(mode="after")
    def _check(self) -> "Policy":
        if (self.approve_min_score is None) != (self.decline_below_score is None):
            raise ValueError("give both approve_min_score and decline_below_score, or neither")
        if (self.approve_min_score is not None and self.decline_below_score is not None
                and self.decline_below_score > self.approve_min_score):
            raise ValueError("decline_below_score must not exceed approve_min_score")
        return self



class ReasonStatement(SpecModel):
    """A reason a customer can read (US Reg B: specific; up to four per adverse action): its stable code, its
    text, and the model features and hard rules (by code) it stands for. Several features may share one
    statement: their contributions are summed."""

    code: Name
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    features: list[Name] = bounded_list(list)
    rules: list[Name] = bounded_list(list)

    @model_validator(mode="after")
    def _check(self) -> "ReasonStatement":
        if not self.features and not self.rules:
            raise ValueError(f"reason statement '{self.code}' needs features or rules it stands for")
        return self


class Reasons(SpecModel):
    """The dictionary of reason statements. Without statements, reasons are the model's feature names (with a
    warning): a feature with no statement, and any protected attribute, is never a reason."""

    statements: list[ReasonStatement] = Field(default_factory=list, max_length=200)

