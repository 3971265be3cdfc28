"""The stability step on online decisions: days of the scored cards rolled up into the decisions zone (journal
files through `ml.serving.rollup`, real storage in tmp_path) get their own rows in the history, channel online,
beside batch rows left exactly as they were; a small online day is shown as "too few rows"; a day without
online decisions records none."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ml import layout
from ml.cli import main
from ml.monitor.check import ONLINE, channel_statistic, check_stability, scored_versions
from ml.monitor.history import History, Record
from ml.scoring.score import SCHEMA as SCORES_SCHEMA
from ml.serving import journal
from ml.serving.rollup import rollup_day
from ml.storage import Storage
from tests.ml.test_monitor_check import SPEC, _reference

FULL, SMALL, NONE = dt.date(2026, 9, 15), dt.date(2026, 9, 16), dt.date(2026, 9, 17)  # no Sunday: no weekly PDF
SMALL_ROWS = 40


def _copy_days(source: Path, target: Path, days: list[dt.date]) -> Storage:
    """The days' curated and scored files in a storage of the test's own (the cards world is shared)."""
    for day in days:
        for folder in (layout.day_folder(layout.CURATED, SPEC.name, day), layout.scores_day(SPEC.name, day)):
            shutil.copytree(source / folder, target / folder)
    return Storage(str(target))


def _roll_up(storage: Storage, day: dt.date, version: str, rows: int | None, log: Path,
             scored_on: dt.date | None = None) -> None:
    """Journal the day's scored rows (the first `rows`; those of `scored_on` if given) as the day's online
    decisions and roll them up."""
    with storage.open_read(layout.scores(SPEC.name, scored_on or day, version)) as fh:
        scored = pq.read_table(fh).to_pylist()[:rows]
    folder = log / day.isoformat()
    folder.mkdir(parents=True)
    with (folder / "replica-1.jsonl").open("w") as fh:
        for i, row in enumerate(scored):
            record = journal.Record(
                time=f"{day.isoformat()}T10:00:00Z", dataset=SPEC.name, business_date=day.isoformat(), client="shop",
                request_id=f"r{i}", decision_id=f"{day}-{i}", input_sha256="0" * 64,
                row={f.name: row[f.name] for f in SCORES_SCHEMA}, model_version=version, policy="model")
            fh.write(record.model_dump_json() + "\n")
    rollup_day(storage, SPEC, day, folder)


def _batch(rows: list[Record]) -> dict[tuple, tuple]:
    return {r.key: (r.value, r.light, r.detail) for r in rows if "channel" not in r.detail}


def test_online_days_get_their_own_rows_and_batch_rows_stay(cards_env, tmp_path):
    days = [FULL, SMALL, NONE]
    storage = _copy_days(Path(cards_env["data"]), tmp_path / "data", days)
    version = scored_versions(storage, SPEC.name, FULL)[0]

    def check(url: str) -> tuple[dict, list[Record]]:
        summary = check_stability(storage, SPEC, days, History.open(url), _reference, run_key=None)
        return summary, History.open(url).read(SPEC.name)

    before, batch_only = check(f"sqlite:///{tmp_path / 'before.db'}")
    assert before["online"] == [] and not [r for r in batch_only if r.statistic.startswith(f"{ONLINE}_")]

    _roll_up(storage, FULL, version, None, tmp_path / "log")
    _roll_up(storage, SMALL, version, SMALL_ROWS, tmp_path / "log")
    summary, rows = check(cards_env["history"])

    # every batch row and the batch windows exactly as without online decisions
    assert _batch(rows) == _batch(batch_only)
    assert summary["windows"] == before["windows"]
    online = [r for r in rows if r.detail.get("channel") == ONLINE]
    assert {(r.window_kind, r.window_start) for r in online} == {("day", FULL), ("day", SMALL)}  # none for NONE
    assert {r.statistic for r in online} == {channel_statistic(s, ONLINE) for s in
                                             ("rows", "score_psi", "score_ks", "score_js", "overall")}
    assert {r.model_version for r in online} == {version} and all(r.feature == "" for r in online)

    def stat(statistic: str, day: dt.date, channel_rows: list[Record]) -> Record:
        return next(r for r in channel_rows if r.statistic == statistic and r.window_start == day)

    batch = [r for r in rows if "channel" not in r.detail]
    # the whole day decided online: the very counts and figures of its batch scores
    assert stat("online_rows", FULL, online).value == stat("rows", FULL, batch).value >= SPEC.monitoring.min_rows
    for name in ("score_psi", "score_ks", "score_js"):
        on, off = stat(f"online_{name}", FULL, online), stat(name, FULL, batch)
        assert on.value == off.value and on.light == off.light and on.light in ("green", "amber", "red")
    assert stat("online_score_psi", FULL, online).detail["counts"] == stat("score_psi", FULL, batch).detail["counts"]
    # a small online day is shown, not judged: its critical value scales with its few rows
    small = stat("online_score_psi", SMALL, online)
    assert stat("online_rows", SMALL, online).value == SMALL_ROWS and small.value is not None
    assert small.light == "too few rows" and stat("online_overall", SMALL, online).light == "too few rows"
    assert small.detail["n"] == SMALL_ROWS
    assert small.detail["critical"] > stat("online_score_psi", FULL, online).detail["critical"]
    assert [(w["start"], w["light"], w["rows"]) for w in summary["online"]] == [
        (FULL.isoformat(), stat("online_overall", FULL, online).light, stat("rows", FULL, batch).value),
        (SMALL.isoformat(), "too few rows", SMALL_ROWS)]

    # a re-run replaces the online rows too
    again, rerun = check(cards_env["history"])
    assert again == summary and len(rerun) == len(rows)


def test_online_windows_never_alert_nor_request_a_retraining(cards_env, tmp_path):
    drifted = dt.date(2026, 9, 24)
    storage = _copy_days(Path(cards_env["data"]), tmp_path / "data", [FULL, drifted])
    version = scored_versions(storage, SPEC.name, FULL)[0]
    # the drifted day's rows decided online on FULL: the online score moves (amber or red, which a batch day
    # would be alerted on), the batch day stays green
    _roll_up(storage, FULL, version, None, tmp_path / "log", scored_on=drifted)
    summary = check_stability(storage, SPEC, [FULL], History.open(cards_env["history"]), _reference,
                              run_key="run-online", waiting=list)
    assert [w["light"] for w in summary["windows"] if w["kind"] == "day"] == ["green"]
    assert [(w["start"], w["score_light"] in ("amber", "red")) for w in summary["online"]] == [(FULL.isoformat(), True)]
    assert summary["alert"] is None and summary["trigger"] is None


def test_the_commands_show_online_days(cards_env, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys):
    storage = _copy_days(Path(cards_env["data"]), tmp_path / "data", [SMALL])
    _roll_up(storage, SMALL, scored_versions(storage, SPEC.name, SMALL)[0], SMALL_ROWS, tmp_path / "log")
    monkeypatch.setenv("RISKOPS_DATA", str(tmp_path / "data"))
    assert main(["stability", "--dataset", SPEC.name, "--date", SMALL.isoformat()]) == 0
    online = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"{SMALL} online day")]
    assert len(online) == 1 and f"{SMALL_ROWS:>9,} rows" in online[0] and online[0].endswith("-> too few rows")
    assert main(["history", "--dataset", SPEC.name, "--statistic", "online_score_psi", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"day,{SMALL},1,online_score_psi,,") and "too few rows" in lines[1]
