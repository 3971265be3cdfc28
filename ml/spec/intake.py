"""How a dataset's data arrives and when it is usable: where replayed rows come from, the business calendar,
when a day's batch is complete, the data-quality gates of a day and what a training sample must hold."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, model_validator

from ml.spec.base import Encoding, Name, SpecModel, bounded_list, shown


class DateRebuild(SpecModel):
    """Rebuild a real date from day/month columns of rows kept in time order (year rolls over on wrap)."""

    day_column: Name
    month_column: Name
    start_year: int = Field(ge=1900, le=2100)
    output_column: Name
    output_format: str = "%Y-%m-%d"


class SyntheticCards(SpecModel):
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


class SourceSpec(SpecModel):
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


class Calendar(SpecModel):
    """Business days of a dataset: every day or weekdays, minus holidays. Replay, the batch sensor, the CLI's
    windows and training windows follow it (`ml.dates.business_days`)."""

    days: Literal["every_day", "weekdays"] = "every_day"
    holidays: list[dt.date] = bounded_list(list)

    def is_business_day(self, day: dt.date) -> bool:
        return (self.days == "every_day" or day.weekday() < 5) and day not in self.holidays


class Quality(SpecModel):
    """Data-quality gates of a preprocessed day: above them the day fails (after its outputs are written)."""

    max_quarantine_rate: float = Field(default=0.5, ge=0, le=1)
    min_rows: int | None = Field(default=None, ge=1)  # rows in (clean + quarantined) a business day must have


class Training(SpecModel):
    """What each development sample (train, validation, out-of-time test) must hold for training to go on: fewer
    rows or outcomes of either kind, and training refuses naming the sample, rather than registering a model
    that learned nothing or that nobody can judge."""

    min_rows: int = Field(default=100, ge=1, le=100_000_000)
    min_positives: int = Field(default=10, ge=1, le=100_000_000)
    min_negatives: int = Field(default=10, ge=1, le=100_000_000)


class Batch(SpecModel):
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

