"""Calendar helpers shared by the CLI, the DAGs' planning tasks, training, monitoring and the demo.

Business days come from a dataset's calendar (`calendar:` in its spec: every day or weekdays, minus holidays).
Standard library only: the batch sensor imports it at run time and the CLI's `--help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.spec import DatasetSpec

WINDOW_KINDS = ("day", "week", "month")  # a week is the ISO week (Monday to Sunday)
BACKTEST_KINDS = ("backtest_week", "backtest")  # the backtest's rows in the history: by ISO week, by as-of date


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


def window_start(kind: str, day: dt.date) -> dt.date:
    """First day of the day / ISO week / calendar month window containing `day`."""
    if kind == "day":
        return day
    if kind == "week":
        return day - dt.timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown window kind {kind!r} (expected one of {', '.join(WINDOW_KINDS)})")


def window_end(kind: str, start: dt.date) -> dt.date:
    """Last day of the window of that kind starting on `start`."""
    if kind == "day":
        return start
    if kind == "week":
        return start + dt.timedelta(days=6)
    if kind == "month":
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    raise ValueError(f"unknown window kind {kind!r} (expected one of {', '.join(WINDOW_KINDS)})")


def iso_week(day: dt.date) -> str:
    """The ISO week of a date as people write it, e.g. 2026-W38."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
