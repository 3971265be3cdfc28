"""Dataset specs: one YAML file per dataset describes its raw format, columns, roles and label.

Adding a dataset needs only a new file in the specs folder (RISKOPS_SPECS).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import reprlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ml.config import MAX_QUORUM
from ml.errors import SpecError

Monotone = Literal["increasing", "decreasing"]  # the PD's direction as a feature grows
ColumnType = Literal["string", "int", "float", "bool", "category", "date", "kv"]
Role = Literal["id", "feature", "date", "exposure", "ignore"]
BUSINESS_DATE = "business_date"  # a date bound meaning "the business date of the batch"

# Spec files are untrusted input: the DAG processor loads every one of them, so a hostile file must cost little.
MAX_SPEC_BYTES = 256 * 1024  # the shipped specs are 2-3 kB
MAX_DEPTH = 20  # nesting of YAML collections; a spec needs 6
MAX_TEXT = 200  # characters of any text value (a category, a rule, a format)
MAX_NAME = 64  # characters of a name (dataset, column, key, band)
MAX_DESCRIPTION = 2000
MAX_ITEMS = 1000  # entries of any list (columns, categories, holidays, rules)
DATASET_NAME = r"^[a-z][a-z0-9_]*$"
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxlevel = 40, 40, 4, 4, 2


def shown(value: Any) -> str:
    """A value as a message may quote it: its repr cut to a few dozen characters (a spec value can be long)."""
    text = _SHOW.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any) -> Any:
    # YAML reads unquoted 0, 01, 1.5, yes and no as numbers or booleans, which would silently become other text
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not text: write it in quotes (YAML reads unquoted 0, 01, 1.5, yes and "
                         "no as numbers or true/false)")
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _encoding(name: str) -> str:
    import codecs

    try:
        if codecs.lookup(name)._is_text_encoding:
            return name
    except LookupError:
        pass
    raise ValueError(f"unknown text encoding {shown(name)} (e.g. utf-8, utf-16, latin-1, cp1252)")


Encoding = Annotated[str, AfterValidator(_encoding)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Bound = float | dt.date | Literal["business_date"]


def _items(default: Any = None, **limits: Any) -> Any:
    """A list field of at most MAX_ITEMS entries (`default` a factory, or None)."""
    if default is None:
        return Field(default=None, max_length=MAX_ITEMS, **limits)
    return Field(default_factory=default, max_length=MAX_ITEMS, **limits)


class _Strict(BaseModel):
    # every text value of a spec is bounded here (names and descriptions by their own fields)
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=MAX_TEXT, allow_inf_nan=False)

    def _useless(self, allowed: set[str], what: str) -> None:
        """Keys that do nothing here are errors, not silently ignored (a key at its default value is harmless,
        so a dumped spec validates again)."""
        fields = type(self).model_fields
        extra = sorted(k for k in self.model_fields_set - allowed
                       if getattr(self, k) != fields[k].get_default(call_default_factory=True))
        if extra:
            raise ValueError(f"{', '.join(extra)} {'does' if len(extra) == 1 else 'do'} nothing on {what}")


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written: decimal mark, thousands separator, currency marks, (1.00) negatives."""

    decimal: str
    thousands: str | None
    currency: tuple[str, ...]
    negative_parentheses: bool


_NUMBER_KEYS = {"min", "max", "decimal", "thousands", "currency", "negative_parentheses"}
_KEYS_BY_TYPE = {
    "string": set(), "int": _NUMBER_KEYS, "float": _NUMBER_KEYS, "bool": {"true_values", "false_values"},
    "category": {"categories", "normalize"}, "date": {"format", "min", "max", "year_pivot"},
    "kv": {"keys", "pair_sep", "kv_sep"},
}


class KeySpec(_Strict):
    """One key of a `key:value;key:value` column; it becomes the column `<parent>_<name>`."""

    name: Name
    type: Literal["string", "int", "float", "bool", "category"] = "string"
    categories: list[Text] | None = _items()
    min: float | None = None
    max: float | None = None
    required: bool = False

    @model_validator(mode="after")
    def _check(self) -> "KeySpec":
        self._useless({"name", "type", "required"} | (_KEYS_BY_TYPE[self.type] & {"categories", "min", "max"}),
                      f"a {self.type} key ('{self.name}')")
        if self.type == "category" and not self.categories:
            raise ValueError(f"category key '{self.name}' needs a list of categories")
        return self


class ColumnSpec(_Strict):
    name: Name
    type: ColumnType
    role: Role = "feature"
    required: bool = False
    # numbers: bounds; dates: bounds as dates (YYYY-MM-DD) or `business_date` (the batch's day)
    min: Bound | None = None
    max: Bound | None = None
    categories: list[Text] | None = _items()
    # Category values are compared after accents are stripped and case folded, so 'Épicerie' == 'epicerie'.
    normalize: bool = True
    format: str | None = None  # strptime format of a date column
    year_pivot: int | None = Field(default=None, ge=0, le=99)  # %y: yy <= pivot is 20yy, else 19yy
    true_values: list[Text] = _items(lambda: ["1", "true", "yes", "y", "s", "t"])
    false_values: list[Text] = _items(lambda: ["0", "false", "no", "n", "f"])
    keys: list[KeySpec] | None = _items()
    pair_sep: str = ";"
    kv_sep: str = ":"
    # number format of this column, over the raw format's
    decimal: str | None = None
    thousands: str | None = None
    currency: list[Text] | None = _items()
    negative_parentheses: bool | None = None
    # the direction of the PD as this numeric feature grows, imposed on the model (XGBoost's
    # monotone_constraints) where credit logic leaves no doubt, e.g. more late payments never lower the PD
    monotone: Monotone | None = None

    @model_validator(mode="after")
    def _check(self) -> "ColumnSpec":
        self._useless({"name", "type", "role", "required", "monotone"} | _KEYS_BY_TYPE[self.type],
                      f"a {self.type} column ('{self.name}')")
        if self.monotone is not None and (self.type not in ("int", "float") or self.role not in ("feature", "exposure")):
            raise ValueError(f"column '{self.name}': monotone is for numeric model features (type int or float, role "
                             f"feature or exposure), not a {self.type} column with role {self.role}")
        if self.type == "category" and not self.categories:
            raise ValueError(f"category column '{self.name}' needs a list of categories")
        if self.type == "kv" and not self.keys:
            raise ValueError(f"kv column '{self.name}' needs keys")
        if self.type == "date":
            if not self.format:
                raise ValueError(f"date column '{self.name}' needs a format (e.g. '%Y-%m-%d')")
            if "%y" in self.format and self.year_pivot is None:
                raise ValueError(f"date column '{self.name}': format {shown(self.format)} has a two-digit year "
                                 "(%y); give year_pivot (e.g. 30: 00-30 are 2000-2030, 31-99 are 1931-1999)")
            if "%y" not in self.format and self.year_pivot is not None:
                raise ValueError(f"date column '{self.name}': year_pivot does nothing without %y in the format")
        self._check_bounds()
        roles = {"date": ("date",), "exposure": ("int", "float"), "id": ("string", "int")}
        if self.role in roles and self.type not in roles[self.role]:
            raise ValueError(f"column '{self.name}': role '{self.role}' needs type {' or '.join(roles[self.role])}, "
                             f"not {self.type}")
        return self

    def _check_bounds(self) -> None:
        date = self.type == "date"
        for bound in (self.min, self.max):
            if bound is not None and date != (isinstance(bound, dt.date) or bound == BUSINESS_DATE):
                kind = "a date (YYYY-MM-DD) or business_date" if date else "a number"
                raise ValueError(f"column '{self.name}': min and max of a {self.type} column must be {kind}, "
                                 f"not {shown(bound)}")
        if type(self.min) is type(self.max) and self.min is not None and self.min > self.max:  # type: ignore[operator]  # same type: comparable
            raise ValueError(f"column '{self.name}': min {self.min} is above max {self.max}")

    @property
    def is_required(self) -> bool:
        return self.required or self.role in ("id", "date")

    def number_format(self, raw: "RawFormat") -> NumberFormat:
        """The column's number format: its own keys over the raw format's."""
        keys = ("decimal", "thousands", "negative_parentheses")
        own: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.currency is not None:
            own["currency"] = tuple(self.currency)
        return dataclasses.replace(raw.number_format(), **own)


class RawFormat(_Strict):
    delimiter: str = ","
    quotechar: str = '"'
    encoding: Encoding = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    # currency marks allowed before or after a number ('$', '€', 'EUR'): '$60,000.00 ', '1.234,56 €'
    currency: list[Text] = _items(list)
    negative_parentheses: bool = False  # '(1,234.00)' is -1234
    na_values: list[Text] = _items(lambda: ["", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"])
    # physical lines one record may span (quoted line breaks); a longer record is split back into its lines,
    # each quarantined, so an unclosed quote cannot swallow the rest of the file
    max_record_lines: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> "RawFormat":
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f"thousands separator and decimal mark are both {shown(self.decimal)}")
        return self

    def number_format(self) -> NumberFormat:
        """How the file's numbers are written (a column may override parts of it)."""
        return NumberFormat(self.decimal, self.thousands, tuple(self.currency), self.negative_parentheses)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class LabelSpec(_Strict):
    """Outcomes arrive separately; values are compared stripped and case-folded. A value in neither list
    (blank, NA, an unknown code) is an unknown outcome: never a good one, kept out of training and backtests."""

    column: Name
    positive: Annotated[list[Text], BeforeValidator(_as_list)] = _items(lambda: ["1"], min_length=1)
    negative: Annotated[list[Text], BeforeValidator(_as_list)] = _items(lambda: ["0"], min_length=1)
    maturity_lag_days: int = Field(ge=0, le=3660)  # up to ten years

    @model_validator(mode="after")
    def _check(self) -> "LabelSpec":
        if len({"positive", "negative"} & self.model_fields_set) == 1:
            raise ValueError("give both positive and negative outcome values (or neither: '1' and '0')")
        both = {v.strip().casefold() for v in self.positive} & {v.strip().casefold() for v in self.negative}
        if both:
            raise ValueError(f"outcome values both positive and negative: {shown(sorted(both))}")
        return self


class DateRebuild(_Strict):
    """Rebuild a real date from day/month columns of rows kept in time order (year rolls over on wrap)."""

    day_column: Name
    month_column: Name
    start_year: int = Field(ge=1900, le=2100)
    output_column: Name
    output_format: str = "%Y-%m-%d"


class SyntheticCards(_Strict):
    """Parameters of the synthetic_cards generator (`ml.data.synthetic.generate_day`, and `rows_per_day`);
    checked when the spec loads, so a wrong one never reaches a replay. Unset ones take the generator's
    defaults."""

    rows_per_day: int | None = Field(default=None, ge=1, le=1_000_000)
    fraud_rate: float | None = Field(default=None, gt=0, lt=1)
    drift_start: dt.date | None = None
    # the drift shifts device shares by up to 0.1 x strength: beyond 1.5 some share would fall below zero
    drift_strength: float | None = Field(default=None, ge=0, le=1.5)
    label_delay_days: int | None = Field(default=None, ge=1, le=3660)
    dirty_rate: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)

    def arguments(self) -> dict[str, Any]:
        """The parameters the spec sets, as the generator's keyword arguments."""
        return self.model_dump(exclude_none=True)


class SourceSpec(_Strict):
    """Where historic rows come from for replay into the landing zone.

    file: `path` is a local path (relative to the spec file's folder, or absolute) or a storage URL (s3://...);
    package_file: `path` inside the installed package `package` (never outside it); synthetic_cards: the generator.
    """

    kind: Literal["file", "package_file", "synthetic_cards"]
    package: str | None = None
    path: str | None = None
    delimiter: str = ","
    encoding: Encoding = "utf-8"
    id_column: Name | None = None  # created as 1..n when the file has none
    rebuild_date: DateRebuild | None = None
    params: SyntheticCards = Field(default_factory=SyntheticCards)

    @model_validator(mode="after")
    def _check(self) -> "SourceSpec":
        reading = {"path", "delimiter", "encoding", "id_column", "rebuild_date"}
        allowed = {"file": reading, "package_file": reading | {"package"}, "synthetic_cards": {"params"}}
        self._useless(allowed[self.kind] | {"kind"}, f"a {self.kind} source")
        if self.kind != "synthetic_cards" and not self.path:
            raise ValueError(f"a {self.kind} source needs 'path'")
        if self.kind == "package_file":
            if not self.package:
                raise ValueError("a package_file source needs 'package'")
            parts = PurePosixPath(self.path or "").parts
            if PurePosixPath(self.path or "").is_absolute() or ".." in parts or "://" in (self.path or ""):
                raise ValueError(f"package_file path {shown(self.path)} must be a relative path inside the package "
                                 "(use a 'file' source for other files)")
        return self


class Calendar(_Strict):
    """Business days of a dataset: every day or weekdays, minus holidays. Replay, the batch sensor, the CLI's
    windows and training windows follow it (`ml.dates.business_days`)."""

    days: Literal["every_day", "weekdays"] = "every_day"
    holidays: list[dt.date] = _items(list)

    def is_business_day(self, day: dt.date) -> bool:
        return (self.days == "every_day" or day.weekday() < 5) and day not in self.holidays


class Quality(_Strict):
    """Data-quality gates of a preprocessed day: above them the day fails (after its outputs are written)."""

    max_quarantine_rate: float = Field(default=0.5, ge=0, le=1)
    min_rows: int | None = Field(default=None, ge=1)  # rows in (clean + quarantined) a business day must have


class Training(_Strict):
    """What each development sample (train, validation, out-of-time test) must hold for training to go on: fewer
    rows or outcomes of either kind, and training refuses naming the sample, rather than registering a model
    that learned nothing or that nobody can judge."""

    min_rows: int = Field(default=100, ge=1, le=100_000_000)
    min_positives: int = Field(default=10, ge=1, le=100_000_000)
    min_negatives: int = Field(default=10, ge=1, le=100_000_000)


class Batch(_Strict):
    """When a day's landing folder is complete: as soon as it exists (none), when a `_SUCCESS` file is there
    (success_file), or when a control file lists every file with its row count and SHA-256 (control_file)."""

    completion: Literal["none", "success_file", "control_file"] = "none"
    file: str | None = None  # the marker's name: _SUCCESS / _CONTROL.json by default

    @model_validator(mode="after")
    def _check(self) -> "Batch":
        if self.completion == "none" and self.file is not None:
            raise ValueError("batch.file does nothing with completion: none")
        if self.file is not None and (not self.file.startswith("_") or "/" in self.file):
            raise ValueError(f"batch.file {shown(self.file)} must be a plain name starting with '_' (a marker, not "
                             "data)")
        return self

    @property
    def marker(self) -> str | None:
        """The file that says the batch is complete, or None when the folder's existence is enough."""
        defaults = {"none": None, "success_file": "_SUCCESS", "control_file": "_CONTROL.json"}
        return self.file or defaults[self.completion]


DERIVATIONS = ("days_between", "age_days", "month", "weekday", "year")


class DerivedFeature(_Strict):
    """A numeric model input computed from date columns: days_between [a, b] (b - a in days), age_days (days
    from the date to the business date), month (1-12), weekday (0 = Monday), year."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=MAX_NAME)
    days_between: list[Name] | None = Field(default=None, min_length=2, max_length=2)
    age_days: Name | None = None
    month: Name | None = None
    weekday: Name | None = None
    year: Name | None = None

    @model_validator(mode="after")
    def _one(self) -> "DerivedFeature":
        given = [k for k in DERIVATIONS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"derived feature '{self.name}' needs exactly one of {', '.join(DERIVATIONS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in DERIVATIONS if getattr(self, k) is not None)

    @property
    def sources(self) -> list[str]:
        value = getattr(self, self.kind)
        return list(value) if isinstance(value, list) else [value]


_RULE = re.compile(r"^\s*(?P<col>[\w.-]+)\s*(?P<op><=|>=|==|!=|<|>|is not null|is null)\s*(?P<value>.*?)\s*$")


class HardRule(_Strict):
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


class ScoreBand(_Strict):
    name: Name
    min_score: float


class PdBand(_Strict):
    name: Name
    max_pd: float = Field(gt=0, le=1)


class Bands(_Strict):
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


class Policy(_Strict):
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
    hard_rules: list[HardRule] = _items(list)
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


MISSING_GROUP = "(missing)"  # the group of rows whose attribute is missing


class GroupBand(_Strict):
    """One group of a numeric attribute: the values below `below` and at or above the previous band's bound
    (the last band has no `below`: every value from the previous bound up)."""

    name: Name
    below: float | None = None


class FairnessAttribute(_Strict):
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


class Fairness(_Strict):
    """Which columns' groups are compared (approval rates, adverse impact ratio, default rates, AUC), and when
    a ratio is too low: below `min_ratio` a challenger is not recommended and monitoring alerts. A group with
    fewer than `min_group_rows` rows (or its reference group) is shown, not judged; AUC by group needs
    `min_group_bads` positive and as many negative outcomes."""

    min_ratio: float = Field(default=0.8, gt=0, le=1)
    min_group_rows: int = Field(default=50, ge=1, le=100_000_000)
    min_group_bads: int = Field(default=10, ge=1, le=100_000_000)
    proxies: int = Field(default=5, ge=0, le=50)  # features most associated with each attribute, listed
    attributes: list[FairnessAttribute] = Field(default_factory=list, max_length=20)


class ReasonStatement(_Strict):
    """A reason a customer can read (US Reg B: specific; up to four per adverse action): its stable code, its
    text, and the model features and hard rules (by code) it stands for. Several features may share one
    statement: their contributions are summed."""

    code: Name
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    features: list[Name] = _items(list)
    rules: list[Name] = _items(list)

    @model_validator(mode="after")
    def _check(self) -> "ReasonStatement":
        if not self.features and not self.rules:
            raise ValueError(f"reason statement '{self.code}' needs features or rules it stands for")
        return self


class Reasons(_Strict):
    """The dictionary of reason statements. Without statements, reasons are the model's feature names (with a
    warning): a feature with no statement, and any protected attribute, is never a reason."""

    statements: list[ReasonStatement] = Field(default_factory=list, max_length=200)


class Fallback(_Strict):
    """What decides while the dataset's model is halted (`python -m ml halt`): the policy's hard rules (when
    `hard_rules`), and `otherwise` for every row they do not decide. Nothing is approved without a model."""

    hard_rules: bool = True
    otherwise: Literal["review", "decline"] = "review"

    def describe(self) -> str:
        """The policy in words (the manifests, the mails, the CLI)."""
        return (f"hard rules, every other row to {self.otherwise}" if self.hard_rules
                else f"every row to {self.otherwise}")


class OverrideRate(_Strict):
    """The range of reviewers' override rates (decided reviews against the model's suggestion) the risk team
    expects; outside it the weekly backtest alerts, once the window holds `min_decided` decided reviews."""

    min: float = Field(default=0.0, ge=0, le=1)
    max: float = Field(default=1.0, ge=0, le=1)
    min_decided: int = Field(default=30, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _check(self) -> "OverrideRate":
        if self.min > self.max:
            raise ValueError(f"oversight.override_rate: min {self.min:g} is above max {self.max:g}")
        return self


class Oversight(_Strict):
    """Human oversight of the dataset's models: how many distinct approvers a promotion or a rollback needs (at
    least RISKOPS_APPROVAL_QUORUM), the fallback policy while the model is halted (none: scoring refuses), and
    the reviewers' override rate the backtest expects (none: shown, never an alert)."""

    approval_quorum: int = Field(default=1, ge=1, le=MAX_QUORUM)
    fallback: Fallback | None = None
    override_rate: OverrideRate | None = None

    def quorum(self, platform_minimum: int) -> int:
        """The approvals a decision needs: the spec may ask for more than the platform's minimum, never fewer."""
        return max(self.approval_quorum, platform_minimum)


class Documentation(_Strict):
    """What the model is for, in the words of its owner: section 1 of each version's technical file, and the
    review period of the model inventory (the next review is due that many days after the champion's since-date)."""

    intended_use: str = Field(default="", max_length=MAX_DESCRIPTION)
    users: str = Field(default="", max_length=MAX_DESCRIPTION)  # who uses the model's decisions
    decisions: str = Field(default="", max_length=MAX_DESCRIPTION)  # which decisions it makes or supports
    owner: str = ""  # the accountable model owner (a person or a team)
    contact: str = ""  # where questions about the model go (an address)
    review_period_days: int = Field(default=365, ge=1, le=3660)

    def missing(self) -> list[str]:
        """The keys the spec leaves blank (the technical file says so rather than leave a hole)."""
        return [k for k in ("intended_use", "users", "decisions", "owner", "contact") if not getattr(self, k).strip()]


class DatasetSpec(_Strict):
    name: str = Field(pattern=DATASET_NAME, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    raw: RawFormat = Field(default_factory=RawFormat)
    batch: Batch = Field(default_factory=Batch)
    calendar: Calendar = Field(default_factory=Calendar)
    quality: Quality = Field(default_factory=Quality)
    training: Training = Field(default_factory=Training)
    columns: list[ColumnSpec] = Field(max_length=MAX_ITEMS)
    derived: list[DerivedFeature] = _items(list)
    label: LabelSpec
    source: SourceSpec | None = None
    policy: Policy = Field(default_factory=Policy)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    fairness: Fairness = Field(default_factory=Fairness)
    reasons: Reasons = Field(default_factory=Reasons)
    oversight: Oversight = Field(default_factory=Oversight)
    documentation: Documentation = Field(default_factory=Documentation)

    @model_validator(mode="after")
    def _check(self) -> "DatasetSpec":
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {shown(dupes)}")
        ids = [c.name for c in self.columns if c.role == "id"]
        if len(ids) != 1:
            raise ValueError(f"exactly one column needs role 'id', found {shown(ids) if ids else 'none'}")
        if len([c for c in self.columns if c.role == "date"]) > 1:
            raise ValueError("at most one column can have role 'date'")
        if self.label.column in names:
            raise ValueError(f"label column '{self.label.column}' must not be a batch column: labels arrive separately")
        types: dict[str, str] = {c.name: c.type for c in self.columns}
        types.update({f"{c.name}_{k.name}": k.type for c in self.columns for k in c.keys or []})
        self._check_derived(types)
        for rule in self.policy.hard_rules:
            _check_rule(rule, types)
        self._check_fairness(types)
        self._check_reasons(types)
        return self

    def _check_fairness(self, types: dict[str, str]) -> None:
        """Attributes name curated columns once, their groups suit the column's type and hold the reference; a
        protected one feeds no model input (derived features) and no reason (hard rules)."""
        seen: set[str] = set()
        for a in self.fairness.attributes:
            where = f"fairness attribute '{a.column}'"
            if a.column not in types:
                raise ValueError(f"{where} is not a column of the spec")
            if a.column in seen:
                raise ValueError(f"{where} is listed twice")
            seen.add(a.column)
            kind = types[a.column]
            role = next((c.role for c in self.columns if c.name == a.column), "feature")
            if role in ("id", "date"):
                raise ValueError(f"{where}: the {role} column cannot be a fairness attribute")
            if kind in ("date", "kv"):
                raise ValueError(f"{where}: a {kind} column has no groups; declare a number, category, bool or "
                                 "string column")
            if (kind in ("int", "float")) != (a.bands is not None):
                raise ValueError(f"{where}: " + (
                    "the groups of a number column are its bands: give bands [{name, below}, ..., {name}]"
                    if kind in ("int", "float") else f"bands are for number columns; the groups of a {kind} column "
                                                     "are its values"))
            groups = self.groups(a)
            if groups is not None and a.reference not in groups:
                raise ValueError(f"{where}: reference {shown(a.reference)} is not one of its groups "
                                 f"{shown(groups)}")
            if a.kind == "protected":
                if a.column in self.monotone:
                    raise ValueError(f"{where} is protected, so it is no model input and cannot be monotone")
                if role == "exposure":
                    raise ValueError(f"{where} is protected but has role exposure (a cost weight and a model "
                                     "input): give it role ignore, or declare it monitored")
                used = [f.name for f in self.derived if a.column in f.sources]
                if used:
                    raise ValueError(f"{where} is protected, so it may not feed the derived feature '{used[0]}'")
                rules = [r.code for r in self.policy.hard_rules if r.parts[0] == a.column]
                if rules:
                    raise ValueError(f"{where} is protected, so no hard rule may read it (its code would be a "
                                     f"reason for the decision): rule {rules[0]}")

    def _check_reasons(self, types: dict[str, str]) -> None:
        """Codes are distinct, every feature and rule is in at most one statement, features are model inputs
        (never a protected attribute) and rules are the policy's."""
        inputs = set(self.model_inputs) | {f.name for f in self.derived}
        protected = self.protected_columns
        rules = {r.code for r in self.policy.hard_rules}
        codes: set[str] = set()
        owner: dict[str, str] = {}
        for s in self.reasons.statements:
            if s.code in codes:
                raise ValueError(f"reason statement code '{s.code}' is used twice")
            codes.add(s.code)
            for feature in s.features:
                if feature in protected:
                    raise ValueError(f"reason statement '{s.code}': '{feature}' is a protected attribute, which is "
                                     "never a reason")
                if feature not in inputs:
                    raise ValueError(f"reason statement '{s.code}': '{feature}' is not a model feature (columns "
                                     "with role feature or exposure, kv keys as <column>_<key>, derived features)")
            for rule in s.rules:
                if rule not in rules:
                    raise ValueError(f"reason statement '{s.code}': '{rule}' is not the code of a hard rule")
            for name in [*s.features, *(f"rule {r}" for r in s.rules)]:
                if name in owner:
                    raise ValueError(f"reason statements '{owner[name]}' and '{s.code}' both name {name}: a "
                                     "feature or rule stands for one statement")
                owner[name] = s.code

    def _check_derived(self, types: dict[str, str]) -> None:
        taken = set(types) | {"business_date", "label"}
        for feature in self.derived:
            if feature.name in taken:
                raise ValueError(f"derived feature '{feature.name}' has the name of a column")
            taken.add(feature.name)
            not_dates = [s for s in feature.sources if types.get(s) != "date"]
            if not_dates:
                raise ValueError(f"derived feature '{feature.name}': {', '.join(not_dates)} is not a date column")
        used = {s for f in self.derived for s in f.sources}
        for col in self.columns:
            if col.type == "date" and col.role == "feature" and col.name not in used:
                raise ValueError(
                    f"date column '{col.name}' has role feature, but a date is not a model input: derive numbers "
                    f"from it under 'derived:' ({', '.join(DERIVATIONS)}) or give it role ignore")

    @property
    def id_column(self) -> str:
        return next(c.name for c in self.columns if c.role == "id")

    @property
    def date_column(self) -> str | None:
        return next((c.name for c in self.columns if c.role == "date"), None)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def protected_columns(self) -> set[str]:
        """The protected attributes: never a model input, never a reason."""
        return {a.column for a in self.fairness.attributes if a.kind == "protected"}

    @property
    def monotone(self) -> dict[str, Monotone]:
        """The monotone constraints: feature -> direction of the PD as it grows, in spec order."""
        return {c.name: c.monotone for c in self.columns if c.monotone is not None}

    @property
    def model_inputs(self) -> list[str]:
        """The curated columns the model takes (roles feature and exposure, kv keys expanded), in spec order,
        without the protected attributes; derived features come on top (`derived`)."""
        names = [f"{c.name}_{k.name}" if c.type == "kv" else c.name for c in self.columns
                 if c.role in ("feature", "exposure") for k in (c.keys or [None])]  # type: ignore[list-item]  # [None]: one name
        return [n for n in names if n not in self.protected_columns]

    def groups(self, attribute: FairnessAttribute) -> list[str] | None:
        """The group names of an attribute in order (MISSING_GROUP last), or None for a text column, whose
        groups are the values that occur."""
        if attribute.bands is not None:
            return [b.name for b in attribute.bands] + [MISSING_GROUP]
        column = next((c for c in self.columns if c.name == attribute.column), None)
        key = None if column else next((k for c in self.columns for k in c.keys or [] if f"{c.name}_{k.name}" ==
                                        attribute.column), None)
        if column is None and key is None:
            return None
        kind = column.type if column else key.type  # type: ignore[union-attr]  # key when not column
        if kind == "bool":
            return ["true", "false", MISSING_GROUP]
        if kind == "category":
            from ml.data.validate import normalize_text

            categories = (column.categories if column else key.categories) or []  # type: ignore[union-attr]  # as above
            fold = column.normalize if column else True
            return list(dict.fromkeys(normalize_text(c) if fold else c for c in categories)) + [MISSING_GROUP]
        return None


def _check_rule(rule: HardRule, types: dict[str, str]) -> None:
    """A rule names a curated column and compares it with a value of its kind: a date with a date
    (YYYY-MM-DD), a number with a number; text only with == and !=."""
    column, op, value = rule.parts
    if column not in types:
        raise ValueError(f"hard rule {shown(rule.when)} names unknown column {shown(column)}")
    if op.startswith("is"):
        return
    if types[column] == "date":
        try:
            dt.date.fromisoformat(value.strip("'\""))
        except ValueError:
            raise ValueError(f"hard rule {shown(rule.when)}: {shown(value)} is not a date (YYYY-MM-DD)") from None
    elif op not in ("==", "!="):
        if types[column] not in ("int", "float"):
            raise ValueError(f"hard rule {shown(rule.when)}: {op} needs a number or date column, '{column}' is "
                             f"{types[column]}")
        try:
            float(value)
        except ValueError:
            raise ValueError(f"hard rule {shown(rule.when)}: {shown(value)} is not a number") from None


class _SpecLoader(yaml.SafeLoader):
    """YAML's safe loader for untrusted spec files: no anchors or aliases (nine nested aliases expand to
    gigabytes) and collections nested at most MAX_DEPTH deep (the composer recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # types-pyyaml leaves Parser.peek_event untyped
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed in a "
                                              "spec: write the values out", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where, and what (PyYAML's own text spans several lines with a snippet)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
    return where + (" ".join((what or type(exc).__name__).split())[:200])


def _location(loc: tuple[Any, ...]) -> str:
    # a key of the file can be anything, long text included: name it the way values are shown
    return ".".join(str(p) if isinstance(p, int) or len(str(p)) <= 40 else shown(p) for p in loc) or "(top)"


def _invalid(exc: ValidationError, shown_at_most: int = 5) -> str:
    errors = exc.errors()
    problems = [f"{_location(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                for err in errors[:shown_at_most]]
    more = f"; and {len(errors) - shown_at_most} more" if len(errors) > shown_at_most else ""
    return "; ".join(problems) + more


def read_spec_text(path: Path) -> str:
    """The text of a spec file, refused when it is larger than MAX_SPEC_BYTES or not UTF-8."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)  # never more, whatever the file claims to be
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {path}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB; a dataset spec is a few kB of YAML")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate one spec file; errors name the file and the offending field on one line. A `file`
    source's relative path is taken from the spec file's folder. Spec files are untrusted: see MAX_* above."""
    try:
        data = yaml.load(read_spec_text(path), Loader=_SpecLoader)  # noqa: S506 - a safe loader, made stricter
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    except ValueError as exc:  # a value YAML cannot build, e.g. an integer of more than 4300 digits
        raise SpecError(f"{path}: not valid YAML: {' '.join(str(exc).split())[:120]}") from None
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path}: invalid dataset spec: {_invalid(exc)}") from None
    if spec.name != path.stem:
        raise SpecError(f"{path}: spec name '{spec.name}' must match the file name {shown(path.stem)}")
    src = spec.source
    if src is not None and src.kind == "file" and src.path and "://" not in src.path and not Path(src.path).is_absolute():
        local = str(path.parent.resolve() / src.path)
        spec = spec.model_copy(update={"source": src.model_copy(update={"path": local})})
    return spec


def spec_paths(specs_dir: Path) -> list[Path]:
    return sorted(specs_dir.glob("*.yaml"))


def load_specs(specs_dir: Path) -> tuple[dict[str, DatasetSpec], dict[str, str]]:
    """Every spec in a folder: the valid ones by dataset name, and the error of each invalid one."""
    specs, errors = {}, {}
    for path in spec_paths(specs_dir):
        try:
            specs[path.stem] = load_spec(path)
        except SpecError as exc:
            errors[path.stem] = str(exc)
    return specs, errors


def dataset_name(name: str) -> str:
    """`name` if it is a dataset's name: a spec file's name in the specs folder, never a path."""
    if not (isinstance(name, str) and len(name) <= MAX_NAME and re.fullmatch(DATASET_NAME, name)):
        raise SpecError(f"{shown(name)} is not a dataset name: lower-case letters, digits and '_', starting with a "
                        f"letter, at most {MAX_NAME} characters (the name of a spec file, not a path)")
    return name


def get_spec(specs_dir: Path, name: str) -> DatasetSpec:
    """The spec of the dataset `name` (a name, refused otherwise) from the specs folder."""
    path = specs_dir / f"{dataset_name(name)}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in spec_paths(specs_dir)) or "none"
        raise SpecError(f"unknown dataset '{name}' (no {path}); known datasets: {known}")
    return load_spec(path)
