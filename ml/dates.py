"""Calendar helpers shared by the CLI, the DAGs' planning tasks, monitoring and the demo."""

from __future__ import annotations

import datetime as dt

WINDOW_KINDS = ("day", "week", "month")  # a week is the ISO week (Monday to Sunday)


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included; empty when end is before start."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


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
