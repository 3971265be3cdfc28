"""A day's landing folder: is the batch complete, which entries are data, and why the others are not read.

Standard library and storage only (no pandas): the batch sensor asks these questions every ten minutes.
"""

from __future__ import annotations

import datetime as dt

from ml import layout
from ml.spec import DatasetSpec
from ml.storage import Storage


def batch_complete(storage: Storage, spec: DatasetSpec, day: dt.date) -> bool:
    """Whether the day's batch has landed completely: its folder exists and, with a completion marker in the
    spec, the marker is there (what the batch sensor waits for)."""
    folder = layout.landing(spec.name, day)
    marker = spec.batch.marker
    return storage.exists(f"{folder}/{marker}") if marker else storage.exists(folder)


def ignored_reason(name: str, kind: str, marker: str | None) -> str | None:
    """Why a landing entry is not read as data, or None for a data file."""
    if kind == "directory":
        return "a subfolder: only files directly in the day's folder are read"
    if name == marker:
        return "the batch's completion marker"
    if name.startswith(".tmp-"):
        return "a temporary file of an unfinished write"
    if name.startswith("."):
        return "a hidden file (name starts with '.')"
    if name.startswith("_"):
        return "a marker or side file (name starts with '_')"
    return None


def landing_entries(storage: Storage, spec: DatasetSpec, day: dt.date) -> tuple[list[str], list[dict[str, str]]]:
    """The data files of a day's landing folder (keys), and every other entry with why it is not read."""
    folder = layout.landing(spec.name, day)
    data, ignored = [], []
    for name, kind in storage.list_entries(folder):
        reason = ignored_reason(name, kind, spec.batch.marker)
        if reason is None:
            data.append(f"{folder}/{name}")
        else:
            ignored.append({"name": name + ("/" if kind == "directory" else ""), "reason": reason})
    return data, ignored
