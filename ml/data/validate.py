"""Typed parsing and per-row validation of raw string fields against a dataset spec (vectorised).

Each check adds a reason to the rows it rejects; a row with no reason is clean. Reasons read
"<column>: <problem>" so a quarantine file can be triaged without the spec at hand.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.spec import BUSINESS_DATE, Bound, ColumnSpec, DatasetSpec, KeySpec, NumberFormat, RawFormat, normalize_text

# Beyond 2**53 a float64 no longer holds every integer exactly; such ids/counts are data errors here.
_MAX_EXACT_INT = 2**53


@dataclass
class Validated:
    """Typed values for every row (nulls where a value was rejected) and a reason list per row."""

    values: pd.DataFrame
    reasons: list[list[str]]

    @property
    def clean_mask(self) -> np.ndarray:
        return np.array([not r for r in self.reasons], dtype=bool)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _short(value: object) -> str:
    # control characters are escaped so a reason always stays on one line
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value))
    return text if len(text) <= 40 else text[:37] + "..."


class _Reasons:
    def __init__(self, n: int) -> None:
        self.rows: list[list[str]] = [[] for _ in range(n)]

    def add(self, mask: np.ndarray | pd.Series, column: str, problem: str, values: pd.Series | None = None) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        for i in idx:
            detail = problem.format(value=_short(values.iloc[i])) if values is not None else problem
            self.rows[i].append(f"{column}: {detail}")


def _na_mask(raw: pd.Series, fmt: RawFormat) -> np.ndarray:
    return raw.str.strip().isin(fmt.na_values).to_numpy() | raw.isna().to_numpy()


def _currency_stripped(text: pd.Series, marks: tuple[str, ...]) -> pd.Series:
    """'$60,000.00', '-$5', '$-5', '1.234,56 €', 'EUR 12' -> the number's text (one mark, case-insensitive)."""
    alternatives = "|".join(re.escape(m) for m in sorted(marks, key=len, reverse=True))
    lead = text.str.extract(rf"(?i)^([+-]?)\s*(?:{alternatives})\s*(.*)$")
    trail = text.str.extract(rf"(?i)^(.*?)\s*(?:{alternatives})$")[0]
    return (lead[0] + lead[1]).fillna(trail).fillna(text)


def _to_plain_number_text(text: pd.Series, fmt: NumberFormat) -> pd.Series:
    """Rewrite a number as written (per its format: currency marks, '(1.00)' negatives, '1.234,56') into
    '-1234.56'; anything ambiguous stays unparseable."""
    negative = pd.Series(False, index=text.index)
    if fmt.negative_parentheses:
        inner = text.str.extract(r"^\(\s*(.*?)\s*\)$")[0]
        negative = inner.notna()
        text = inner.fillna(text)
    if fmt.currency:
        text = _currency_stripped(text, fmt.currency)
    if fmt.thousands:
        t, d = re.escape(fmt.thousands), re.escape(fmt.decimal)
        # a thousands separator only counts in grouping positions, so '12.5' in a decimal-comma file is rejected
        grouped = text.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?").fillna(False).astype(bool)
        text = text.where(~grouped, text.str.replace(fmt.thousands, "", regex=False))
    if fmt.decimal != ".":
        stray_point = text.str.contains(".", regex=False).fillna(False).astype(bool)
        text = text.where(~stray_point, "not-a-number").str.replace(fmt.decimal, ".", regex=False)
    if negative.any():
        # '(-5)' is no number: the parentheses already say negative
        signed = text.str.match(r"[+-]").fillna(False).astype(bool)
        text = text.where(~negative, ("-" + text).where(~signed, "not-a-number"))
    return text


def _parse_number(raw: pd.Series, fmt: RawFormat, number: NumberFormat, column: str, as_int: bool,
                  lo: float | None, hi: float | None, reasons: _Reasons) -> pd.Series:
    text = _to_plain_number_text(raw.str.strip(), number)
    null = _na_mask(raw, fmt)
    numbers = pd.to_numeric(text.where(~null), errors="coerce").astype("float64")
    bad = np.isnan(numbers.to_numpy()) & ~null
    reasons.add(bad, column, "'{value}' is not a number", raw)
    vals = numbers.to_numpy()
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(vals)
        reasons.add(infinite, column, "'{value}' is not a finite number", raw)
        ok = ~np.isnan(vals) & ~infinite
        if as_int:
            not_int = ok & (np.abs(vals) >= _MAX_EXACT_INT)
            reasons.add(not_int, column, "'{value}' is too large for an integer", raw)
            ok &= ~not_int
            frac = ok & (vals != np.floor(vals))
            reasons.add(frac, column, "'{value}' is not a whole number", raw)
            ok &= ~frac
        if lo is not None:
            below = ok & (vals < lo)
            reasons.add(below, column, "{value} is below the minimum " + f"{lo:g}", raw)
            ok &= ~below
        if hi is not None:
            above = ok & (vals > hi)
            reasons.add(above, column, "{value} is above the maximum " + f"{hi:g}", raw)
            ok &= ~above
    cleaned = pd.Series(np.where(ok, vals, np.nan), index=raw.index)
    return cleaned.round().astype("Int64") if as_int else cleaned


def _parse_bool(raw: pd.Series, fmt: RawFormat, column: str, true_values: list[str], false_values: list[str],
                reasons: _Reasons) -> pd.Series:
    text = raw.str.strip().str.casefold()
    trues = {v.casefold() for v in true_values}
    falses = {v.casefold() for v in false_values}
    null = _na_mask(raw, fmt)
    is_true = text.isin(trues).to_numpy()
    is_false = text.isin(falses).to_numpy()
    bad = ~null & ~is_true & ~is_false
    reasons.add(bad, column, "'{value}' is not a yes/no value", raw)
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[is_true] = True
    out[is_false] = False
    return out


def _parse_category(raw: pd.Series, fmt: RawFormat, column: str, categories: list[str], normalize: bool,
                    reasons: _Reasons) -> pd.Series:
    null = _na_mask(raw, fmt)
    if normalize:
        text = raw.map(normalize_text, na_action="ignore")
        allowed = {normalize_text(c) for c in categories}
    else:
        text = raw.str.strip()
        allowed = set(categories)
    known = text.isin(allowed).to_numpy()
    bad = ~null & ~known
    reasons.add(bad, column, "unknown category '{value}'", raw)
    return text.where(known).astype("string")


def parse_dates(text: pd.Series, col: ColumnSpec) -> pd.Series:
    """Dates of a date column written in its format (NaT where they are not); two-digit years follow the
    column's year_pivot: yy <= pivot is 20yy, later ones 19yy."""
    parsed = pd.to_datetime(text, format=col.format, errors="coerce")
    if col.year_pivot is not None:
        year = parsed.dt.year.to_numpy(dtype=float, na_value=np.nan)
        yy = year % 100
        with np.errstate(invalid="ignore"):
            shift = np.where(yy <= col.year_pivot, 2000, 1900) + yy - year
        for delta in (-100, 100):  # Python's own rule is 00-68 -> 2000s; only whole centuries move
            moved = shift == delta
            if moved.any():
                parsed[moved] = parsed[moved] + pd.DateOffset(years=delta)
    return parsed.astype("datetime64[s]")


def _date_bound(bound: Bound | None, day: dt.date | None, column: str) -> tuple[pd.Timestamp, str] | None:
    if bound is None:
        return None
    if bound == BUSINESS_DATE:
        if day is None:
            raise ValueError(f"column '{column}' is bounded by the business date: validate with the day")
        return pd.Timestamp(day), f"{day} (the business date)"
    return pd.Timestamp(bound), str(bound)


def _parse_date(raw: pd.Series, fmt: RawFormat, col: ColumnSpec, day: dt.date | None,
                reasons: _Reasons) -> pd.Series:
    null = _na_mask(raw, fmt)
    parsed = parse_dates(raw.str.strip().where(~null), col)
    bad = parsed.isna().to_numpy() & ~null
    reasons.add(bad, col.name, "'{value}' is not a date in format " + (col.format or ""), raw)
    ok = ~parsed.isna().to_numpy()
    shown = "'" + raw.str.strip() + "' (" + parsed.dt.strftime("%Y-%m-%d") + ")"
    days = parsed.dt.normalize()
    for bound, outside, word in ((col.min, np.less, "before the minimum"), (col.max, np.greater, "after the maximum")):
        limit = _date_bound(bound, day, col.name)
        if limit is not None:
            out = ok & outside(days.to_numpy(), limit[0].to_datetime64())
            reasons.add(out, col.name, "{value} is " + f"{word} {limit[1]}", shown)
            ok &= ~out
    return parsed.where(ok)


def _parse_scalar(raw: pd.Series, fmt: RawFormat, column: str, spec: ColumnSpec | KeySpec, day: dt.date | None,
                  reasons: _Reasons) -> pd.Series:
    if spec.type in ("int", "float"):
        number = spec.number_format(fmt) if isinstance(spec, ColumnSpec) else fmt.number_format()
        return _parse_number(raw, fmt, number, column, spec.type == "int", spec.min, spec.max,  # type: ignore[arg-type]  # spec: numbers
                             reasons)
    if spec.type == "bool":
        fields = ColumnSpec.model_fields
        tv = getattr(spec, "true_values", fields["true_values"].get_default(call_default_factory=True))
        fv = getattr(spec, "false_values", fields["false_values"].get_default(call_default_factory=True))
        return _parse_bool(raw, fmt, column, tv, fv, reasons)
    if spec.type == "category":
        return _parse_category(raw, fmt, column, spec.categories or [], getattr(spec, "normalize", True), reasons)
    if spec.type == "date":
        assert isinstance(spec, ColumnSpec)  # kv keys have no date type
        return _parse_date(raw, fmt, spec, day, reasons)
    null = _na_mask(raw, fmt)
    return raw.str.strip().where(~null).astype("string")


def _parse_kv(raw: pd.Series, fmt: RawFormat, col: ColumnSpec, reasons: _Reasons) -> dict[str, pd.Series]:
    null = _na_mask(raw, fmt)
    text = raw.where(~null, "").str.strip()
    pair_sep, kv_sep = re.escape(col.pair_sep), re.escape(col.kv_sep)
    # a non-empty piece without the key/value separator means the string is not key:value pairs
    malformed = text.str.contains(rf"(?:^|{pair_sep})\s*[^{kv_sep}{pair_sep}]+\s*(?:{pair_sep}|$)", regex=True)
    malformed &= text != ""
    reasons.add(malformed.to_numpy(), col.name, "'{value}' is not key" + col.kv_sep + "value pairs", raw)
    out: dict[str, pd.Series] = {}
    for key in col.keys or []:
        pattern = rf"(?i)(?:^|{pair_sep})\s*{re.escape(key.name)}\s*{kv_sep}([^{pair_sep}]*)"
        value = text.str.extract(pattern, expand=False)
        name = f"{col.name}_{key.name}"
        parsed = _parse_scalar(value.where(value.notna(), ""), fmt, name, key, None, reasons)
        if key.required:
            reasons.add(parsed.isna().to_numpy() & ~malformed.to_numpy(), name, "missing required value")
        out[name] = parsed
    return out


def validate_fields(frame: pd.DataFrame, spec: DatasetSpec, day: dt.date | None = None) -> Validated:
    """Parse string columns (missing optional ones as all-null) into typed columns and collect reasons;
    `day` is the business date (date bounds `business_date` compare with it)."""
    n = len(frame)
    reasons = _Reasons(n)
    fmt = spec.raw
    values: dict[str, pd.Series] = {}
    for col in spec.columns:
        raw = frame[col.name] if col.name in frame else pd.Series([""] * n, index=frame.index, dtype="string")
        raw = raw.astype("string").fillna("")
        if col.type == "kv":
            values.update(_parse_kv(raw, fmt, col, reasons))
            continue
        parsed = _parse_scalar(raw, fmt, col.name, col, day, reasons)
        if col.is_required:
            reasons.add(_na_mask(raw, fmt), col.name, "missing required value")
        values[col.name] = parsed
    # only rows that are otherwise clean compete for an id, so a broken first copy does not reject a good one
    ids = values[spec.id_column]
    candidates = np.array([not r for r in reasons.rows], dtype=bool) & ids.notna().to_numpy()
    dup = np.zeros(n, dtype=bool)
    dup[candidates] = ids[candidates].duplicated(keep="first").to_numpy()
    reasons.add(dup, spec.id_column, "duplicate id '{value}' (an earlier row has it)", ids.astype("string"))
    return Validated(values=pd.DataFrame(values, index=frame.index), reasons=reasons.rows)
