"""ml.monitor.history: the SQL history on SQLite and on a fresh PostgreSQL database; re-runs replace rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ml.errors import RiskopsError
from ml.monitor.history import History, Record
from tests.helpers import fresh_postgres

DAY = dt.date(2026, 9, 21)


def _rows(value: float, light: str = "green") -> list[Record]:
    return [Record("cards", "3", "day", DAY, "csi", "amount", value, light, {"counts": [1, 2, 3]}),
            Record("cards", "3", "day", DAY, "score_psi", "", value / 2, light),
            Record("cards", "3", "week", dt.date(2026, 9, 21), "csi", "amount", value * 3, "red"),
            Record("bank", "1", "day", DAY, "csi", "age", 0.01, "green")]


@pytest.fixture(scope="module")
def postgres_url():
    """A uniquely named database on the local PostgreSQL, dropped afterwards."""
    with fresh_postgres("riskops_history") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'sub' / 'history.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("postgres_url")


def test_write_read_and_rerun_replaces(url):
    history = History.open(url)
    assert history.write(_rows(0.05)) == 4
    assert history.write(_rows(0.31, "red")) == 4  # a re-run of the same windows
    rows = history.read("cards")
    assert len(rows) == 3  # replaced, not duplicated; the other dataset is not read
    amount = history.read("cards", window_kind="day", statistics=["csi"], feature="amount")
    assert [(r.value, r.light, r.detail) for r in amount] == [(0.31, "red", {"counts": [1, 2, 3]})]
    assert history.read("cards", since=DAY + dt.timedelta(days=1)) == []
    assert {r.window_kind for r in history.read("cards", window_starts=[DAY])} == {"day", "week"}
    # opening again (a new process) finds the schema at head and keeps the rows
    assert len(History.open(url).read("cards")) == 3


def test_a_result_that_supersedes_an_earlier_one_deletes_its_rows_in_the_same_write(url):
    history = History.open(url)
    history.write(_rows(0.05))
    old = history.read("cards", model_version="3")
    # the days were re-scored by version 4: its rows replace version 3's, whose keys differ
    new = [Record("cards", "4", r.window_kind, r.window_start, r.statistic, r.feature, 0.2) for r in old]
    assert history.write(new, replacing=old) == len(old)
    assert {r.model_version for r in history.read("cards")} == {"4"}
    assert len(history.read("bank")) == 1  # what was not replaced stays
    assert history.write([], replacing=history.read("bank")) == 0 and history.read("bank") == []


def test_schema_comes_from_the_migrations_with_its_own_version_table(url):
    History.open(url)
    engine = sa.create_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"riskops_history", "riskops_history_version"} <= tables and "alembic_version" not in tables
    with engine.connect() as c:
        assert c.execute(sa.text("select version_num from riskops_history_version")).scalar() == "0001"
    engine.dispose()


def test_an_unusable_url_is_a_clear_error(tmp_path):
    with pytest.raises(RiskopsError, match="history database URL 'nosuchdb://x' is not usable"):
        History.open("nosuchdb://x")
