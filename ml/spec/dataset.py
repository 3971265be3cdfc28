"""A dataset's spec: its sections together, and the checks that span sections (a rule names a column, a
protected attribute feeds no model input, a reason statement names model features)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ml.spec import checks
from ml.spec.base import (
    DATASET_NAME,
    MAX_DESCRIPTION,
    MAX_ITEMS,
    MAX_NAME,
    SpecModel,
    bounded_list,
    normalize_text,
    shown,
)
from ml.spec.columns import ColumnSpec, DerivedFeature, LabelSpec, Monotone, RawFormat
from ml.spec.intake import Batch, Calendar, Quality, SourceSpec, Training
from ml.spec.monitoring import MISSING_GROUP, Fairness, FairnessAttribute, Monitoring
from ml.spec.oversight import Documentation, Oversight
from ml.spec.policy import Policy, Reasons
from ml.spec.serving import Serving


class DatasetSpec(SpecModel):
    name: str = Field(pattern=DATASET_NAME, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    raw: RawFormat = Field(default_factory=RawFormat)
    batch: Batch = Field(default_factory=Batch)
    calendar: Calendar = Field(default_factory=Calendar)
    quality: Quality = Field(default_factory=Quality)
    training: Training = Field(default_factory=Training)
    columns: list[ColumnSpec] = Field(max_length=MAX_ITEMS)
    derived: list[DerivedFeature] = bounded_list(list)
    label: LabelSpec
    source: SourceSpec | None = None
    policy: Policy = Field(default_factory=Policy)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    fairness: Fairness = Field(default_factory=Fairness)
    reasons: Reasons = Field(default_factory=Reasons)
    oversight: Oversight = Field(default_factory=Oversight)
    documentation: Documentation = Field(default_factory=Documentation)
    serving: Serving = Field(default_factory=Serving)

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
        types = checks.column_types(self.columns)
        checks.derived(self, types)
        for rule in self.policy.hard_rules:
            checks.hard_rule(rule, types)
        checks.fairness(self, types)
        checks.reasons(self)
        return self

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
            categories = (column.categories if column else key.categories) or []  # type: ignore[union-attr]  # as above
            fold = column.normalize if column else True
            return list(dict.fromkeys(normalize_text(c) if fold else c for c in categories)) + [MISSING_GROUP]
        return None

