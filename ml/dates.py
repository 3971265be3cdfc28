"""Calendar helpers shared by the CLI, the DAGs' planning tasks and the demo."""

from __future__ import annotations

import datetime as dt


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included; empty when end is before start."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
