"""The stability step on scored card days around the synthetic drift, with a real MLflow store and history:
windows and lights, re-runs, the alert, the retraining request (on red, not on green, not while a
candidate waits) and the weekly report; and the `stability` / `history` commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mlflow import MlflowClient

from ml import layout
from ml.cli import main
from ml.dates import date_range
from ml.governance import registry
from ml.monitor import alerts
from ml.monitor.check import check_stability
from ml.monitor.history import History
from ml.monitor.stability import Reference
from ml.spec import get_spec
from ml.storage import Storage
from tests.conftest import CARDS_DAYS, CARDS_START, DRIFT_START

REPO = Path(__file__).resolve().parents[2]
SPEC = get_spec(REPO / "datasets", "card_transactions")
DAYS = date_range(CARDS_START, CARDS_START + dt.timedelta(days=CARDS_DAYS - 1))
BEFORE = [d for d in DAYS if d < DRIFT_START]


def _reference(version: str) -> Reference:
    model = registry.load_model(MlflowClient(), registry.model_name(SPEC.name), version)
    return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical)


def _check(env: dict, days: list[dt.date], run_key: str | None = "run-1", waiting: list[str] | None = None) -> dict:
    return check_stability(Storage(str(env["data"])), SPEC, days, History.open(env["history"]), _reference,
                           run_key=run_key, waiting=lambda: list(waiting or []))


def test_drift_days_turn_red_weeks_come_from_days_and_reruns_replace(cards_env):
    summary = _check(cards_env, DAYS, run_key=None)
    lights = {(w["kind"], w["start"]): w["light"] for w in summary["windows"]}
    assert all(lights[("day", d.isoformat())] == "green" for d in BEFORE)
    assert all(lights[("day", d.isoformat())] in ("amber", "red") for d in DAYS if d >= DRIFT_START)
    assert "red" in {lights[("day", d.isoformat())] for d in DAYS if d >= DRIFT_START}
    assert lights[("week", "2026-09-14")] == "green" and lights[("week", "2026-09-21")] in ("amber", "red")
    assert ("month", "2026-09-01") in lights
    history = History.open(cards_env["history"])
    rows = history.read(SPEC.name)
    week = {r.statistic: r for r in rows if r.window_kind == "week" and r.window_start == dt.date(2026, 9, 21)
            and r.feature == ""}
    days_rows = [r for r in rows if r.window_kind == "day" and r.statistic == "rows" and r.window_start >= DRIFT_START
                 + dt.timedelta(days=1)]
    assert week["rows"].value == sum(r.value for r in days_rows)  # the week is its days' counts
    assert {r.statistic for r in rows if r.feature == "amount"} == {"csi", "ks", "js", "overall"}
    ks = next(r for r in rows if r.statistic == "ks" and r.feature == "amount" and r.window_kind == "day")
    assert 0 <= ks.detail["p_value"] <= 1 and ks.detail["method"] == "exact"
    # the weekly PDF of the complete week (its Sunday monitored); the next one is not complete yet
    assert [r["week"] for r in summary["reports"]] == ["2026-W38"]
    assert Storage(str(cards_env["data"])).read_bytes(summary["reports"][0]["key"]).startswith(b"%PDF")

    again = _check(cards_env, DAYS, run_key=None)
    assert again["windows"] == summary["windows"]
    assert len(history.read(SPEC.name)) == len(rows)  # replaced, not duplicated


def test_red_requests_one_retraining_and_alerts_once(cards_env):
    summary = _check(cards_env, DAYS)
    trigger, alert = summary["trigger"], summary["alert"]
    assert trigger["status"] == "requested" and trigger["waiting"] == []
    assert trigger["reason"].startswith("drift in card_transactions (day 2026-09-") and "red" in trigger["reason"]
    assert trigger["as_of"] >= "2026-11-09"  # the newest landed labels: a retraining sees the drifted days
    assert alert["subject"].startswith("[riskops] card_transactions stability RED:")
    assert {w["start"] for w in alert["windows"]} >= {d.isoformat() for d in DAYS if d >= DRIFT_START}
    assert "device_os" in alert["html"] and "cid:drift.png" in alert["html"]
    storage = Storage(str(cards_env["data"]))
    assert storage.read_bytes(alert["chart"]).startswith(b"\x89PNG")
    assert storage.read_json(layout.stability_run(SPEC.name, "run-1")) == summary

    history = History.open(cards_env["history"])
    alerts.record_sent(history, SPEC.name, alert["windows"], ["risk@example.com"], alert["subject"])
    rerun = _check(cards_env, DAYS, run_key="run-2")
    assert rerun["alert"] is None and rerun["trigger"] is None  # both were done for these windows


def test_no_retraining_on_green_nor_while_a_candidate_waits(cards_env):
    green = _check(cards_env, BEFORE[-2:])
    assert green["trigger"] is None and green["alert"] is None

    suppressed = _check(cards_env, DAYS[-2:], waiting=["2"])["trigger"]
    assert suppressed["status"] == "suppressed" and suppressed["waiting"] == ["2"]
    recorded = History.open(cards_env["history"]).read(SPEC.name, statistics=["retrain_trigger"])
    assert recorded and {r.detail["status"] for r in recorded} == {"suppressed"}
    # once no candidate waits, the same red windows do request one
    assert _check(cards_env, DAYS[-2:], run_key="run-3")["trigger"]["status"] == "requested"


def test_commands_stability_and_history(cards_env, capsys):
    assert main(["stability", "--dataset", SPEC.name, "--date", "2026-09-21"]) == 0
    out = capsys.readouterr().out
    assert "2026-09-21 day   v1:" in out and "-> red" in out
    assert main(["history", "--dataset", SPEC.name, "--feature", "device_os", "--window", "day"]) == 0
    table = capsys.readouterr().out
    assert "csi" in table and "device_os" in table and "red" in table
    assert main(["history", "--dataset", SPEC.name, "--statistic", "score_psi", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "window_kind,window_start,model_version,statistic,feature,value,light,detail"
    assert len(lines) == 4  # day, week and month windows of the day
    assert main(["stability", "--dataset", SPEC.name, "--date", "2026-08-01"]) == 2
    assert capsys.readouterr().err.startswith("error: nothing scored for 'card_transactions' between 2026-08-01")
