"""The stability run's summary (`layout.stability_run`): what `ml.monitor.check.check_stability` leaves for the
stability DAG's next tasks (the alert mails, the weekly PDFs to mail, the retraining request), typed once here
and read through these models everywhere.

Version 1 is the summary before the evidence rule (no critical values, fairness windows without `red`); it is
still readable: the fields it lacks have defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from ml.storage import Storage


class Contract(BaseModel):
    """A JSON file one step writes and another reads: strict about unknown keys, versioned."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    CURRENT: ClassVar[int] = 1
    version: int = 1  # files written before versioning are version 1

    @classmethod
    def read(cls, storage: Storage, key: str) -> Self:
        """The file at `key`, validated (a clear error naming the file when it is not one)."""
        try:
            return cls.model_validate(storage.read_json(key))
        except ValueError as exc:
            raise ValueError(f"{storage.url(key)} is not a {cls.__name__} file: {exc}") from exc

    def write(self, storage: Storage, key: str) -> dict[str, Any]:
        """Write as JSON; returns what was written."""
        data = self.model_dump(mode="json")
        storage.write_json(key, data)
        return data

    @classmethod
    def of(cls, data: Self | Mapping[str, Any]) -> Self:
        """A model from itself or from its JSON form (as a summary dict holds it)."""
        return data if isinstance(data, cls) else cls.model_validate(data)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def of(cls, data: Self | Mapping[str, Any]) -> Self:
        """A part from itself or from its JSON form."""
        return data if isinstance(data, cls) else cls.model_validate(data)


class WindowSummary(_Part):
    """A judged stability window (`check.Window.summary`)."""

    model_version: str
    kind: str
    start: str
    end: str
    rows: int
    light: str | None
    score_psi: float | None
    score_light: str | None
    score_critical: float | None = None  # the score PSI no change exceeds with 1% probability (None before v2)
    reference_rows: int | None = None
    red: list[str]
    amber: list[str]

    @property
    def key(self) -> tuple[str, str, dt.date]:
        return self.model_version, self.kind, dt.date.fromisoformat(self.start)


class FairWindowSummary(_Part):
    """A judged fair-lending window (`fair_lending.FairWindow.summary`)."""

    model_version: str
    kind: str
    start: str
    end: str
    light: str | None
    below: list[str]  # groups whose ratio is below the minimum
    red: list[str] | None = None  # those red on evidence (None in version 1 files: every group below was red)

    @property
    def key(self) -> tuple[str, str, dt.date]:
        return self.model_version, self.kind, dt.date.fromisoformat(self.start)

    @property
    def red_groups(self) -> list[str]:
        return list(self.below if self.red is None else self.red)


class DriftAlert(_Part):
    subject: str
    html: str
    chart: str  # storage key of the PNG
    windows: list[WindowSummary]


class FairnessAlert(_Part):
    subject: str
    html: str
    windows: list[FairWindowSummary]


class WeeklyReport(_Part):
    week: str
    start: str
    key: str
    model_version: str


class RetrainTrigger(_Part):
    status: str  # "requested" or "suppressed"
    reason: str
    run_key: str
    waiting: list[str]
    as_of: str
    windows: list[WindowSummary]


class StabilityRun(Contract):
    """One stability run: its windows, and what its next tasks send or request."""

    CURRENT: ClassVar[int] = 2
    dataset: str
    windows: list[WindowSummary]
    alert: DriftAlert | None = None
    trigger: RetrainTrigger | None = None
    reports: list[WeeklyReport] = []
    fairness: list[FairWindowSummary] = []
    fairness_alert: FairnessAlert | None = None
    online: list[WindowSummary] = []  # the online decisions' day windows (shown, never alerted on)
