"""The columns of a dataset's batches (types, roles, bounds, categories, number formats), its raw file format,
its label and the features derived from its dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ml.spec.base import MAX_NAME, Encoding, Name, SpecModel, Text, bounded_list, shown

Monotone = Literal["increasing", "decreasing"]  # the PD's direction as a feature grows
ColumnType = Literal["string", "int", "float", "bool", "category", "date", "kv"]
Role = Literal["id", "feature", "date", "exposure", "ignore"]
BUSINESS_DATE = "business_date"  # a date bound meaning "the business date of the batch"
Bound = float | dt.date | Literal["business_date"]


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


class KeySpec(SpecModel):
    """One key of a `key:value;key:value` column; it becomes the column `<parent>_<name>`."""

    name: Name
    type: Literal["string", "int", "float", "bool", "category"] = "string"
    categories: list[Text] | None = bounded_list()
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


class ColumnSpec(SpecModel):
    name: Name
    type: ColumnType
    role: Role = "feature"
    required: bool = False
    # numbers: bounds; dates: bounds as dates (YYYY-MM-DD) or `business_date` (the batch's day)
    min: Bound | None = None
    max: Bound | None = None
    categories: list[Text] | None = bounded_list()
    # Category values are compared after accents are stripped and case folded, so 'Épicerie' == 'epicerie'.
    normalize: bool = True
    format: str | None = None  # strptime format of a date column
    year_pivot: int | None = Field(default=None, ge=0, le=99)  # %y: yy <= pivot is 20yy, else 19yy
    true_values: list[Text] = bounded_list(lambda: ["1", "true", "yes", "y", "s", "t"])
    false_values: list[Text] = bounded_list(lambda: ["0", "false", "no", "n", "f"])
    keys: list[KeySpec] | None = bounded_list()
    pair_sep: str = ";"
    kv_sep: str = ":"
    # number format of this column, over the raw format's
    decimal: str | None = None
    thousands: str | None = None
    currency: list[Text] | None = bounded_list()
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


class RawFormat(SpecModel):
    delimiter: str = ","
    quotechar: str = '"'
    encoding: Encoding = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    # currency marks allowed before or after a number ('$', '€', 'EUR'): '$60,000.00 ', '1.234,56 €'
    currency: list[Text] = bounded_list(list)
    negative_parentheses: bool = False  # '(1,234.00)' is -1234
    na_values: list[Text] = bounded_list(lambda: ["", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"])
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


class LabelSpec(SpecModel):
    """Outcomes arrive separately; values are compared stripped and case-folded. A value in neither list
    (blank, NA, an unknown code) is an unknown outcome: never a good one, kept out of training and backtests."""

    column: Name
    positive: Annotated[list[Text], BeforeValidator(_as_list)] = bounded_list(lambda: ["1"], min_length=1)
    negative: Annotated[list[Text], BeforeValidator(_as_list)] = bounded_list(lambda: ["0"], min_length=1)
    maturity_lag_days: int = Field(ge=0, le=3660)  # up to ten years

    @model_validator(mode="after")
    def _check(self) -> "LabelSpec":
        if len({"positive", "negative"} & self.model_fields_set) == 1:
            raise ValueError("give both positive and negative outcome values (or neither: '1' and '0')")
        both = {v.strip().casefold() for v in self.positive} & {v.strip().casefold() for v in self.negative}
        if both:
            raise ValueError(f"outcome values both positive and negative: {shown(sorted(both))}")
        return self



DERIVATIONS = ("days_between", "age_days", "month", "weekday", "year")


class DerivedFeature(SpecModel):
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

