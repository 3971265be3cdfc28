"""The monitoring history: every statistic monitoring computes, in one SQL table.

One row per (dataset, model version, window kind, window start, statistic, feature), with a value, a
traffic light and a JSON detail. Writing a row whose key exists replaces it, so re-runs and backfills
never duplicate. Any SQLAlchemy URL works (RISKOPS_HISTORY_URL; by default a SQLite file under
RISKOPS_HOME); the schema is created and upgraded by Alembic migrations (`ml/monitor/migrations`, own
version table) when the history is opened.

The public API is `Record`, `History.open(url)`, `History.write(records)` and `History.read(...)`.
Conventions the writers share:
- `window_kind` is "day", "week" (ISO, starting Monday) or "month", and `window_start` the first day of the
  window (`ml.dates.window_start`); other producers may add kinds (e.g. a backtest's "week").
- `feature` is "" when the statistic is not about one feature (the score, the whole window).
- `statistic` names what was measured; stability writes rows, score_psi / score_ks / score_js, csi / ks / js
  per feature, overall (per feature and for the window), alert, retrain_trigger and weekly_report.
- `light` is "green", "amber", "red", "too few rows", or None when not graded.
- `detail` holds what a reader needs to interpret or re-aggregate the value (counts, p-values, notes).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, ProgrammingError

from ml.errors import RiskopsError

TABLE = "riskops_history"
VERSION_TABLE = "riskops_history_version"
MIGRATIONS = Path(__file__).with_name("migrations")
KEY = ("dataset", "model_version", "window_kind", "window_start", "statistic", "feature")

_metadata = sa.MetaData()
history_table = sa.Table(
    TABLE, _metadata,
    sa.Column("dataset", sa.String(100), primary_key=True),
    sa.Column("model_version", sa.String(40), primary_key=True),
    sa.Column("window_kind", sa.String(20), primary_key=True),
    sa.Column("window_start", sa.Date, primary_key=True),
    sa.Column("statistic", sa.String(60), primary_key=True),
    sa.Column("feature", sa.String(200), primary_key=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("light", sa.String(20), nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)  # the shape migrations/versions creates; the queries below are written against it


@dataclass(frozen=True)
class Record:
    """One row of the history."""

    dataset: str
    model_version: str
    window_kind: str
    window_start: dt.date
    statistic: str
    feature: str = ""
    value: float | None = None
    light: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    recorded_at: dt.datetime | None = None  # set when written

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in KEY)


def migrate(engine: sa.Engine) -> None:
    """Create or upgrade the history schema to the latest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(3):
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except (OperationalError, ProgrammingError):
            # two processes migrating a fresh database at once: the later one finds the table made; try again
            if attempt == 2:
                raise
            time.sleep(0.5 + attempt)


class History:
    """The history behind one SQLAlchemy URL."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "History":
        """Connect (a SQLite file's folder is created) and bring the schema up to date."""
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            database = sa.make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 60}  # concurrent writers wait instead of failing
        try:
            engine = sa.create_engine(url, **options)
            migrate(engine)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise RiskopsError(f"history database URL {url!r} is not usable: {exc}") from exc
        except sa.exc.OperationalError as exc:
            raise RiskopsError(f"cannot open the history database {engine.url!r}: {exc.orig}") from exc
        return cls(engine)

    def write(self, records: Iterable[Record], replacing: Iterable[Record] = ()) -> int:
        """Write records in one transaction; a record replaces the row with the same key, and the rows of
        `replacing` (an earlier result the records supersede) are deleted. Returns the count written."""
        now = dt.datetime.now(dt.timezone.utc)
        rows = {r.key: {**{k: getattr(r, k) for k in KEY}, "value": r.value, "light": r.light,
                        "detail": r.detail, "recorded_at": r.recorded_at or now} for r in records}
        stale = {r.key for r in replacing} | set(rows)
        if not stale:
            return 0
        t = history_table
        key_match = sa.and_(*(t.c[k] == sa.bindparam(f"k_{k}") for k in KEY))
        with self.engine.begin() as connection:
            connection.execute(t.delete().where(key_match), [{f"k_{k}": v for k, v in zip(KEY, key, strict=True)} for key in stale])
            if rows:
                connection.execute(t.insert(), list(rows.values()))
        return len(rows)

    def read(self, dataset: str, *, model_version: str | None = None, window_kind: str | None = None,
             statistics: Sequence[str] | None = None, feature: str | None = None, since: dt.date | None = None,
             until: dt.date | None = None, window_starts: Sequence[dt.date] | None = None) -> list[Record]:
        """Rows of a dataset, optionally filtered, ordered by window start, kind, version, statistic, feature."""
        t = history_table
        query = sa.select(t).where(t.c.dataset == dataset)
        for column, value in (("model_version", model_version), ("window_kind", window_kind), ("feature", feature)):
            if value is not None:
                query = query.where(t.c[column] == value)
        if statistics is not None:
            query = query.where(t.c.statistic.in_(list(statistics)))
        if since is not None:
            query = query.where(t.c.window_start >= since)
        if until is not None:
            query = query.where(t.c.window_start <= until)
        if window_starts is not None:
            query = query.where(t.c.window_start.in_(list(window_starts)))
        query = query.order_by(t.c.window_start, t.c.window_kind, t.c.model_version, t.c.statistic, t.c.feature)
        with self.engine.connect() as connection:
            return [Record(**row._mapping) for row in connection.execute(query)]

