"""The monitoring view's figures are the weekly PDF's: on the scored cards around their drift (a real history
and MLflow store), the view's days, weeks and worst CSI for a week equal what `ml.monitor.weekly.report_data`
gives the PDF of that week; the alerts it lists are the ones recorded as mailed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ml.dates import date_range
from ml.governance import registry
from ml.monitor import alerts, stability, view, weekly
from ml.monitor.check import check_stability
from ml.monitor.history import History
from ml.spec import get_spec
from ml.storage import Storage
from tests.conftest import CARDS_DAYS, CARDS_START

REPO = Path(__file__).resolve().parents[2]
SPEC = get_spec(REPO / "datasets", "card_transactions")
DAYS = date_range(CARDS_START, CARDS_START + dt.timedelta(days=CARDS_DAYS - 1))
WEEK = dt.date(2026, 9, 14)  # the complete week of the world (its Sunday is the 20th, the drift's first day)


def _reference(version: str) -> stability.Reference:
    model = registry.load_model(MlflowClient(), registry.model_name(SPEC.name), version)
    return stability.Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical)


@pytest.fixture
def monitored(cards_env):
    storage, history = Storage(str(cards_env["data"])), History.open(cards_env["history"])
    summary = check_stability(storage, SPEC, DAYS, history, _reference, run_key="run-1", waiting=lambda: [])
    return storage, history, summary


def test_the_view_shows_the_numbers_the_weekly_pdf_is_made_of(monitored):
    storage, history, _ = monitored
    data = weekly.report_data(storage, SPEC, history, WEEK, _reference("1"), "1",
                              dt.datetime(2026, 9, 28, tzinfo=dt.timezone.utc))
    days = view.lights(history, SPEC.name, "day", since=WEEK, until=WEEK + dt.timedelta(days=6))
    assert [(d.label, d.model_version, d.rows, d.score_psi, d.score_light, d.light) for d in days] == \
        [(d.date, d.model_version, d.rows, d.score_psi, d.score_light, d.light) for d in data.days]
    weeks = view.lights(history, SPEC.name, "week", until=WEEK)
    assert [(w.label, w.score_psi, w.score_light) for w in weeks] == data.weeks
    (shown,) = [w for w in weeks if w.start == WEEK]
    assert (shown.rows, shown.light) == (data.week_rows, data.week_light)
    worst = max(data.features, key=lambda f: (stability.SEVERITY.get(f.csi_light, 0), f.csi or 0.0))
    assert (shown.worst_csi_feature, shown.worst_csi, shown.worst_csi_light) == (worst.name, worst.csi, worst.csi_light)


def test_the_drifted_windows_are_red_and_their_alerts_listed_once_mailed(monitored):
    _, history, summary = monitored
    weeks = {w.label: w for w in view.lights(history, SPEC.name, "week")}
    assert weeks["2026-W38"].light == "green" and weeks["2026-W39"].light in ("amber", "red")
    assert "red" in {d.light for d in view.lights(history, SPEC.name, "day") if d.start >= dt.date(2026, 9, 20)}
    assert [m.label for m in view.lights(history, SPEC.name, "month")] == ["2026-09"]
    assert view.sent_alerts(history, SPEC.name) == []  # not mailed yet
    alerts.record_sent(history, SPEC.name, summary["alert"]["windows"], ["risk@bank.example"], "drift!",
                       now=dt.datetime(2026, 9, 26, 6, tzinfo=dt.timezone.utc))
    sent = view.sent_alerts(history, SPEC.name)
    assert {(a.kind, a.start.isoformat(), a.light) for a in sent} == \
        {(w["kind"], w["start"], w["light"]) for w in summary["alert"]["windows"]}
    assert {a.subject for a in sent} == {"drift!"} and {a.what for a in sent} == {"drift"}


def test_the_registry_side_champion_history_and_no_candidate_waiting(monitored):
    client = MlflowClient()
    (event,) = view.champion_history(client, SPEC.name)
    assert (event.action, event.version) == ("promoted", "1")
    assert view.waiting(client, SPEC.name) == []


def test_an_unknown_window_kind_is_refused(monitored):
    _, history, _ = monitored
    with pytest.raises(ValueError, match="window kind 'year' is not one of day, week, month"):
        view.lights(history, SPEC.name, "year")
