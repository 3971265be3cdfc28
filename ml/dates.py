"""Calendar helpers shared by the CLI, the DAGs' planning tasks, training, monitoring and the demo.

Business days come from a dataset's calendar (`calendar:` in its spec: every day or weekdays, minus holidays).
Standard library only: the batch sensor imports it at run time and the CLI's `--help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.data.spec import DatasetSpec


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included; empty when end is before start."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def is_business_day(spec: "DatasetSpec", day: dt.date) -> bool:
    """Whether a batch is expected for `day` in the dataset's calendar."""
    return spec.calendar.is_business_day(day)


def business_days(spec: "DatasetSpec", start: dt.date, end: dt.date) -> list[dt.date]:
    """The dataset's business days from start to end, both included."""
    return [d for d in date_range(start, end) if is_business_day(spec, d)]


def last_business_days(spec: "DatasetSpec", last: dt.date, count: int) -> list[dt.date]:
    """The `count` most recent business days on or before `last`, oldest first."""
    days: list[dt.date] = []
    day = last
    # a calendar with no business day at all would loop forever: ten years without one is a broken calendar
    while len(days) < count and (last - day).days <= 3660 + 7 * count:
        if is_business_day(spec, day):
            days.append(day)
        day -= dt.timedelta(days=1)
    return days[::-1]
