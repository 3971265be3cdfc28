"""Dataset specs: one YAML file per dataset describes its raw format, columns, roles and label.

Adding a dataset needs only a new file in the specs folder (RISKOPS_SPECS).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ml.errors import SpecError

ColumnType = Literal["string", "int", "float", "bool", "category", "date", "kv"]
Role = Literal["id", "feature", "date", "exposure", "ignore"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeySpec(_Strict):
    """One key of a `key:value;key:value` column; it becomes the column `<parent>_<name>`."""

    name: str
    type: Literal["string", "int", "float", "bool", "category"] = "string"
    categories: list[str] | None = None
    min: float | None = None
    max: float | None = None
    required: bool = False


class ColumnSpec(_Strict):
    name: str
    type: ColumnType
    role: Role = "feature"
    required: bool = False
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    # Category values are compared after accents are stripped and case folded, so 'Épicerie' == 'epicerie'.
    normalize: bool = True
    format: str | None = None  # strptime format of a date column
    true_values: list[str] = Field(default_factory=lambda: ["1", "true", "yes", "y", "s", "t"])
    false_values: list[str] = Field(default_factory=lambda: ["0", "false", "no", "n", "f"])
    keys: list[KeySpec] | None = None
    pair_sep: str = ";"
    kv_sep: str = ":"

    @model_validator(mode="after")
    def _check(self) -> "ColumnSpec":
        if self.type == "category" and not self.categories:
            raise ValueError(f"category column '{self.name}' needs a list of categories")
        if self.type == "kv" and not self.keys:
            raise ValueError(f"kv column '{self.name}' needs keys")
        if self.type == "date" and not self.format:
            raise ValueError(f"date column '{self.name}' needs a format (e.g. '%Y-%m-%d')")
        for key in self.keys or []:
            if key.type == "category" and not key.categories:
                raise ValueError(f"key '{key.name}' of '{self.name}' needs a list of categories")
        return self

    @property
    def is_required(self) -> bool:
        return self.required or self.role in ("id", "date")


class RawFormat(_Strict):
    delimiter: str = ","
    quotechar: str = '"'
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    na_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"])


class LabelSpec(_Strict):
    column: str
    positive: str = "1"
    maturity_lag_days: int = Field(ge=0)


class DateRebuild(_Strict):
    """Rebuild a real date from day/month columns of rows kept in time order (year rolls over on wrap)."""

    day_column: str
    month_column: str
    start_year: int
    output_column: str
    output_format: str = "%Y-%m-%d"


class SourceSpec(_Strict):
    """Where historic rows come from for replay into the landing zone."""

    kind: Literal["package_file", "synthetic_cards"]
    package: str | None = None
    path: str | None = None
    delimiter: str = ","
    id_column: str | None = None  # created as 1..n when the file has none
    rebuild_date: DateRebuild | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "SourceSpec":
        if self.kind == "package_file" and not (self.package and self.path):
            raise ValueError("a package_file source needs 'package' and 'path'")
        return self


_RULE = re.compile(r"^\s*(?P<col>[\w.-]+)\s*(?P<op><=|>=|==|!=|<|>|is not null|is null)\s*(?P<value>.*?)\s*$")


class HardRule(_Strict):
    """A business rule applied before the model: `when` is '<column> <op> <value>' or '<column> is null'."""

    when: str
    action: Literal["decline", "review"]
    code: str

    @field_validator("when")
    @classmethod
    def _readable(cls, when: str) -> str:
        m = _RULE.match(when)
        if m is None or m["op"].startswith("is") == bool(m["value"]):
            raise ValueError(f"cannot read rule '{when}': write '<column> <op> <value>' with op one of "
                             "< <= > >= == !=, or '<column> is null' / '<column> is not null'")
        return when

    @property
    def parts(self) -> tuple[str, str, str]:
        """(column, operator, value); value is '' for the null tests."""
        m = _RULE.match(self.when)
        assert m is not None  # checked by _readable
        return m["col"], m["op"], m["value"]


class ScoreBand(_Strict):
    name: str
    min_score: float


class Policy(_Strict):
    """How a probability becomes a score, a band and a decision."""

    base_score: float = 600.0  # score at base_odds (good:bad)
    base_odds: float = 50.0
    pdo: float = 20.0  # points to double the odds
    bands: list[ScoreBand] = Field(default_factory=lambda: [
        ScoreBand(name="A", min_score=640), ScoreBand(name="B", min_score=600), ScoreBand(name="C", min_score=560),
        ScoreBand(name="D", min_score=520), ScoreBand(name="E", min_score=float("-inf"))])
    # Score cut-offs; when absent, the model's own threshold decides: decline at PD >= threshold, review at
    # PD >= review_fraction * threshold.
    approve_min_score: float | None = None
    decline_below_score: float | None = None
    review_fraction: float = Field(default=0.6, gt=0, le=1)
    hard_rules: list[HardRule] = Field(default_factory=list)
    # Reason codes for declined and reviewed rows (the adverse actions that must be explained), or all rows.
    reason_codes: Literal["adverse", "all"] = "adverse"

    @model_validator(mode="after")
    def _check(self) -> "Policy":
        if (self.approve_min_score is None) != (self.decline_below_score is None):
            raise ValueError("give both approve_min_score and decline_below_score, or neither")
        if self.approve_min_score is not None and self.decline_below_score > self.approve_min_score:  # type: ignore[operator]
            raise ValueError("decline_below_score must not exceed approve_min_score")
        names = [b.name for b in self.bands]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"bands need at least one band and distinct names, got {names}")
        return self


class Thresholds(_Strict):
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


class Backtest(_Strict):
    """When the weekly backtest alerts the risk team (besides any rank-order inversion)."""

    alpha: float = Field(default=0.05, gt=0, lt=1)  # significance of the AUC-drop and Jeffreys tests
    max_rejected_bands: int = Field(default=1, ge=0)  # bands whose PD Jeffreys may reject without an alert


class Monitoring(_Strict):
    """Stability thresholds of the dataset's models (used by monitoring, alerts and reports)."""

    psi: Thresholds = Thresholds(amber=0.10, red=0.25)  # the score's PSI and every feature's CSI
    ks: Thresholds = Thresholds(amber=0.10, red=0.20)  # two-sample KS statistic of a numeric feature
    js: Thresholds = Thresholds(amber=0.10, red=0.20)  # Jensen-Shannon distance of a feature's bins
    min_rows: int = Field(default=500, ge=1)  # a window with fewer rows is "too few rows", not judged
    retrain_on_red_features: int = Field(default=3, ge=1)  # red features that trigger a retraining
    backtest: Backtest = Backtest()


class DatasetSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    raw: RawFormat = Field(default_factory=RawFormat)
    columns: list[ColumnSpec]
    label: LabelSpec
    source: SourceSpec | None = None
    policy: Policy = Field(default_factory=Policy)
    monitoring: Monitoring = Field(default_factory=Monitoring)

    @model_validator(mode="after")
    def _check(self) -> "DatasetSpec":
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {dupes}")
        ids = [c.name for c in self.columns if c.role == "id"]
        if len(ids) != 1:
            raise ValueError(f"exactly one column needs role 'id', found {ids or 'none'}")
        if len([c for c in self.columns if c.role == "date"]) > 1:
            raise ValueError("at most one column can have role 'date'")
        if self.label.column in names:
            raise ValueError(f"label column '{self.label.column}' must not be a batch column: labels arrive separately")
        types = {c.name: c.type for c in self.columns} | {
            f"{c.name}_{k.name}": k.type for c in self.columns for k in c.keys or []}
        for rule in self.policy.hard_rules:
            _check_rule(rule, types)
        return self

    @property
    def id_column(self) -> str:
        return next(c.name for c in self.columns if c.role == "id")

    @property
    def date_column(self) -> str | None:
        return next((c.name for c in self.columns if c.role == "date"), None)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _check_rule(rule: HardRule, types: dict[str, str]) -> None:
    """A rule names a curated column and compares it with a value of its kind: a date with a date
    (YYYY-MM-DD), a number with a number; text only with == and !=."""
    column, op, value = rule.parts
    if column not in types:
        raise ValueError(f"hard rule '{rule.when}' names unknown column '{column}'")
    if op.startswith("is"):
        return
    if types[column] == "date":
        try:
            dt.date.fromisoformat(value.strip("'\""))
        except ValueError:
            raise ValueError(f"hard rule '{rule.when}': '{value}' is not a date (YYYY-MM-DD)") from None
    elif op not in ("==", "!="):
        if types[column] not in ("int", "float"):
            raise ValueError(f"hard rule '{rule.when}': {op} needs a number or date column, '{column}' is "
                             f"{types[column]}")
        try:
            float(value)
        except ValueError:
            raise ValueError(f"hard rule '{rule.when}': '{value}' is not a number") from None


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate one spec file; errors name the file and the offending field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise SpecError(f"{path}: invalid dataset spec: {problems}") from None
    if spec.name != path.stem:
        raise SpecError(f"{path}: spec name '{spec.name}' must match the file name '{path.stem}'")
    return spec


def spec_paths(specs_dir: Path) -> list[Path]:
    return sorted(specs_dir.glob("*.yaml"))


def load_specs(specs_dir: Path) -> dict[str, DatasetSpec]:
    """All specs in a folder, by dataset name."""
    return {p.stem: load_spec(p) for p in spec_paths(specs_dir)}


def get_spec(specs_dir: Path, name: str) -> DatasetSpec:
    path = specs_dir / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in spec_paths(specs_dir)) or "none"
        raise SpecError(f"unknown dataset '{name}' (no {path}); known datasets: {known}")
    return load_spec(path)
