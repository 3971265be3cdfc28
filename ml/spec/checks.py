"""The checks of a dataset spec that span its sections, each a function of the spec's parts; `DatasetSpec`
runs them when a spec is validated."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ml.spec.base import shown
from ml.spec.columns import DERIVATIONS
from ml.spec.policy import HardRule

if TYPE_CHECKING:
    from ml.spec.columns import ColumnSpec
    from ml.spec.dataset import DatasetSpec


def column_types(columns: list[ColumnSpec]) -> dict[str, str]:
    """The type of every curated column, kv keys as `<column>_<key>`."""
    types: dict[str, str] = {c.name: c.type for c in columns}
    types.update({f"{c.name}_{k.name}": k.type for c in columns for k in c.keys or []})
    return types


def hard_rule(rule: HardRule, types: dict[str, str]) -> None:
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
        except ValueError as exc:
            raise ValueError(f"hard rule {shown(rule.when)}: {shown(value)} is not a date (YYYY-MM-DD)") from exc
    elif op not in ("==", "!="):
        if types[column] not in ("int", "float"):
            raise ValueError(f"hard rule {shown(rule.when)}: {op} needs a number or date column, '{column}' is "
                             f"{types[column]}")
        try:
            float(value)
        except ValueError as exc:
            raise ValueError(f"hard rule {shown(rule.when)}: {shown(value)} is not a number") from exc


def fairness(spec: DatasetSpec, types: dict[str, str]) -> None:
    """Attributes name curated columns once, their groups suit the column's type and hold the reference; a
    protected one feeds no model input (derived features) and no reason (hard rules)."""
    seen: set[str] = set()
    for a in spec.fairness.attributes:
        where = f"fairness attribute '{a.column}'"
        if a.column not in types:
            raise ValueError(f"{where} is not a column of the spec")
        if a.column in seen:
            raise ValueError(f"{where} is listed twice")
        seen.add(a.column)
        kind = types[a.column]
        role = next((c.role for c in spec.columns if c.name == a.column), "feature")
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
        groups = spec.groups(a)
        if groups is not None and a.reference not in groups:
            raise ValueError(f"{where}: reference {shown(a.reference)} is not one of its groups "
                             f"{shown(groups)}")
        if a.kind == "protected":
            _protected(spec, a.column, role, where)


def _protected(spec: DatasetSpec, column: str, role: str, where: str) -> None:
    """A protected attribute feeds no model input and no reason."""
    if column in spec.monotone:
        raise ValueError(f"{where} is protected, so it is no model input and cannot be monotone")
    if role == "exposure":
        raise ValueError(f"{where} is protected but has role exposure (a cost weight and a model "
                         "input): give it role ignore, or declare it monitored")
    used = [f.name for f in spec.derived if column in f.sources]
    if used:
        raise ValueError(f"{where} is protected, so it may not feed the derived feature '{used[0]}'")
    rules = [r.code for r in spec.policy.hard_rules if r.parts[0] == column]
    if rules:
        raise ValueError(f"{where} is protected, so no hard rule may read it (its code would be a "
                         f"reason for the decision): rule {rules[0]}")


def reasons(spec: DatasetSpec) -> None:
    """Codes are distinct, every feature and rule is in at most one statement, features are model inputs
    (never a protected attribute) and rules are the policy's."""
    inputs = set(spec.model_inputs) | {f.name for f in spec.derived}
    protected = spec.protected_columns
    rules = {r.code for r in spec.policy.hard_rules}
    codes: set[str] = set()
    owner: dict[str, str] = {}
    for s in spec.reasons.statements:
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


def derived(spec: DatasetSpec, types: dict[str, str]) -> None:
    """Derived features have names of their own and read date columns; a date feature is derived from."""
    taken = set(types) | {"business_date", "label"}
    for feature in spec.derived:
        if feature.name in taken:
            raise ValueError(f"derived feature '{feature.name}' has the name of a column")
        taken.add(feature.name)
        not_dates = [s for s in feature.sources if types.get(s) != "date"]
        if not_dates:
            raise ValueError(f"derived feature '{feature.name}': {', '.join(not_dates)} is not a date column")
    used = {s for f in spec.derived for s in f.sources}
    for col in spec.columns:
        if col.type == "date" and col.role == "feature" and col.name not in used:
            raise ValueError(
                f"date column '{col.name}' has role feature, but a date is not a model input: derive numbers "
                f"from it under 'derived:' ({', '.join(DERIVATIONS)}) or give it role ignore")
