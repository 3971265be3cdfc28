"""The days of one scoring run, each its own commit: with several days, a failed day does not stop the others,
and the run is refused at the end naming how many failed; a single day's failure is the run's failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from ml.errors import RiskopsError
from ml.scoring.manifests import DayScored

# (day, manifest, error): the manifest of a committed day; None and None for a day this run had committed
# already (a retry); None and the error for a day that failed
Outcome = tuple[dt.date, DayScored | None, RiskopsError | None]


def each_day(outcomes: Iterable[Outcome], days: list[dt.date], verb: str) -> Iterator[Outcome]:
    """Every outcome in turn (failures too, for the caller to name); raises the single day's error, or, after the
    last day, the refusal of a run in which some days failed (`verb`: 'scored', 'decided')."""
    failed = 0
    for day, manifest, error in outcomes:
        if error is not None:
            if len(days) == 1:
                raise error
            failed += 1
        yield day, manifest, error
    if failed:
        raise RiskopsError(f"{failed} of {len(days)} days not {verb} (each named above); the others are committed")
