"""What the evidence rules of the lights (`ml.evidence`, `ml.fairness.ratio_light`) buy, measured on the worlds the
demo monitors, seeded:

- false alarms: Give Me Some Credit replayed over 30 days and scored by its champion trained on them (as `make
  demo` does), and card transactions replayed over 30 days before their drift (the development distribution,
  seeded synthetic rows) and scored by the cards' champion: no red alert of any kind;
- power: the cards' drift from 2026-09-20 is red on its first day; a planted disparity (a group of ~5% of the rows
  approved at 0.7 times the reference's rate from a Wednesday on) is red within its first ISO week.

Each test also counts what the conventional thresholds alone (the rule before) would have called red, the
"before" figures of docs/monitoring.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from ml import bins, fairness
from ml.config import TrainConfig
from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.dates import window_end
from ml.governance import registry
from ml.monitor import fair_lending, stability
from ml.monitor.check import check_stability
from ml.monitor.history import History, Record
from ml.monitor.stability import Reference
from ml.retraining.retrain import retrain
from ml.scoring import score
from ml.spec import DatasetSpec, get_spec
from ml.storage import Storage
from tests.conftest import DRIFT_START
from tests.helpers import approve

REPO = Path(__file__).resolve().parents[2]
GMSC = get_spec(REPO / "datasets", "give_me_some_credit")
CARDS = get_spec(REPO / "datasets", "card_transactions")
GRADED = {stability.SCORE_PSI: "psi", stability.CSI: "psi", stability.KS: "ks", stability.SCORE_KS: "ks",
          stability.JS: "js", stability.SCORE_JS: "js"}


def _reference(spec: DatasetSpec):
    def load(version: str) -> Reference:
        model = registry.load_model(MlflowClient(), registry.model_name(spec.name), version)
        return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical)
    return load


def _world(home: Path, spec: DatasetSpec, start: dt.date, days: int, train: TrainConfig | None,
           as_of: dt.date | None = None, tracking: str | None = None) -> dict:
    """Replay `days` days from `start`, preprocess them, train and approve a champion on them (when `train`; else
    use the champion of `tracking`'s store), score every replayed day with it, and monitor them as the stability
    DAG does (with a run key: alerts decided). Returns the run's summary and the history."""
    storage = Storage(str(home / "data"))
    replayed = [dt.date.fromisoformat(str(s["date"])) for s in replay(storage, spec, start,
                                                                       start + dt.timedelta(days=days - 1))]
    for day in replayed:
        preprocess_day(storage, spec, day)
    tracking = tracking or f"sqlite:///{home / 'mlflow.db'}"
    history_url = f"sqlite:///{home / 'history.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKOPS_DATA", str(home / "data"))
        mp.setenv("MLFLOW_TRACKING_URI", tracking)
        mp.setenv("MLFLOW_REGISTRY_URI", tracking)
        mp.setenv("RISKOPS_MLFLOW_ARTIFACTS", (home / "art").as_uri())
        mp.setenv("RISKOPS_HISTORY_URL", history_url)
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(tracking)
        try:
            if train is not None:
                assert as_of is not None
                summary = retrain(storage, spec, as_of, train, artifact_root=(home / "art").as_uri())
                approve(MlflowClient(), registry.model_name(spec.name), summary.version)
            pinned = score.resolve_model(spec.name)
            for day in replayed:
                score.score_day(storage, spec, day, pinned)
            history = History.open(history_url)
            result = check_stability(storage, spec, replayed, history, _reference(spec), run_key="evidence")
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
    return {"summary": result, "history": history, "days": replayed}


def _red_alerts(summary: dict) -> list[str]:
    """The red windows the run would mail about: drift and fairness."""
    drift = [f"{w['kind']} {w['start']}" for w in (summary["alert"] or {}).get("windows", []) if w["light"] == "red"]
    fair = [f"fairness {w['kind']} {w['start']}" for w in (summary["fairness_alert"] or {}).get("windows", [])]
    return drift + fair


def _red_before(records: list[Record], spec: DatasetSpec) -> set[tuple[str, str, dt.date]]:
    """The judged windows the conventional thresholds alone call red (the rule before the evidence): a statistic
    at or above its red threshold, or a group's ratio below the minimum."""
    pairs = {"psi": spec.monitoring.psi.pair, "ks": spec.monitoring.ks.pair, "js": spec.monitoring.js.pair}
    red = set()
    for r in records:
        judged = r.light not in (None, stability.TOO_FEW_ROWS) and r.value is not None
        if judged and r.statistic in GRADED and bins.traffic_light(r.value, *pairs[GRADED[r.statistic]]) == bins.RED:
            red.add(("drift", r.window_kind, r.window_start))
        if judged and r.statistic == fair_lending.RATIO and r.value < spec.fairness.min_ratio:
            red.add(("fairness", r.window_kind, r.window_start))
    return red


@pytest.fixture(scope="module")
def gmsc(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Give Me Some Credit over 30 days from 2026-07-01, its champion trained on them (the demo's split)."""
    start, days = dt.date(2026, 7, 1), 30
    as_of = start + dt.timedelta(days=days - 1 + GMSC.label.maturity_lag_days)
    return _world(tmp_path_factory.mktemp("gmsc-evidence"), GMSC, start, days, TrainConfig(), as_of)


def test_give_me_some_credit_over_30_days_sends_no_red_alert(gmsc) -> None:
    summary, history = gmsc["summary"], gmsc["history"]
    assert _red_alerts(summary) == []
    records = history.read(GMSC.name)
    before = _red_before(records, GMSC)
    print(f"\nGMSC {len(gmsc['days'])} days: red before {sorted(before)}; red now {_red_alerts(summary)}")
    # the rule before called red on noise: the issue's young applicants' days
    assert any(what == "fairness" and kind == "day" for what, kind, _ in before)
    ratios = [r for r in records if r.statistic == fair_lending.RATIO and r.window_kind == "day"
              and r.value is not None and r.value < GMSC.fairness.min_ratio and r.light != stability.TOO_FEW_ROWS]
    assert ratios and all(r.light == fairness.AMBER and r.detail["high"] >= GMSC.fairness.min_ratio for r in ratios)
    # the evidence is recorded beside the light: the critical value and the sizes it was computed at
    psi = next(r for r in records if r.statistic == stability.SCORE_PSI and r.window_kind == "day")
    assert psi.detail["critical"] > 0 and psi.detail["n"] == sum(psi.detail["counts"]) and psi.detail["m"] > 0


@pytest.fixture(scope="module")
def cards_before_drift(tmp_path_factory: pytest.TempPathFactory, scored_cards: dict) -> Iterator[dict]:
    """The cards' development distribution: 30 days before the drift, scored by the cards' champion."""
    start = DRIFT_START - dt.timedelta(days=30)
    yield _world(tmp_path_factory.mktemp("cards-stationary"), CARDS, start, 30, None,
                 tracking=scored_cards["tracking"])


def test_a_seeded_replay_of_the_development_distribution_sends_no_red_alert(cards_before_drift) -> None:
    summary = cards_before_drift["summary"]
    assert len(cards_before_drift["days"]) >= 28
    before = _red_before(cards_before_drift["history"].read(CARDS.name), CARDS)
    print(f"\ncards 30 days before the drift: red before {sorted(before)}; red now {_red_alerts(summary)}")
    assert _red_alerts(summary) == []


def test_the_cards_drift_is_red_on_its_first_day(cards_env) -> None:
    days = [DRIFT_START + dt.timedelta(days=i) for i in range(-2, 3)]
    summary = check_stability(Storage(str(cards_env["data"])), CARDS, days, History.open(cards_env["history"]),
                              _reference(CARDS), run_key="power")
    lights = {(w["kind"], w["start"]): w for w in summary["windows"]}
    first = lights[("day", DRIFT_START.isoformat())]
    assert first["light"] == "red" and first["score_critical"] is not None
    assert all(lights[("day", d.isoformat())]["light"] == "green" for d in days if d < DRIFT_START)
    assert DRIFT_START.isoformat() in {w["start"] for w in summary["alert"]["windows"] if w["light"] == "red"}


def _planted_day(rng: np.random.Generator, rows: int, share: float, rate: float, ratio: float
                 ) -> fairness.GroupCounts:
    """A day's approvals: a group of `share` of the rows approved at `ratio` times the others' `rate`."""
    attribute = GMSC.fairness.attributes[0]
    in_group = rng.random(rows) < share
    approved = rng.random(rows) < np.where(in_group, rate * ratio, rate)
    codes = np.where(in_group, 0, 1)
    return fairness.count_groups(codes, ["under 25", "25 to 61"], attribute, approved)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_disparity_is_red_within_its_first_iso_week(tmp_path: Path, seed: int) -> None:
    """7,000 rows a day, ~5% in the group; from Wednesday 2026-09-16 on the group is approved at 0.7 times the
    reference's rate (0.8 before: green). Days and the week are judged as the stability step judges them."""
    rng = np.random.default_rng(seed)
    history = History.open(f"sqlite:///{tmp_path / 'history.db'}")
    monday, planted = dt.date(2026, 9, 14), dt.date(2026, 9, 16)
    spec = GMSC
    windows = []
    for i in range(14):
        day = monday - dt.timedelta(days=7) + dt.timedelta(days=i)
        counts = [_planted_day(rng, 7_000, 0.05, 0.85, 0.7 if day >= planted else 0.95)]
        window = fair_lending.judged(spec, "1", "day", day, counts)
        history.write(window.records(spec.name, spec.fairness.min_ratio))
        windows.append(window)
    for start in (monday - dt.timedelta(days=7), monday):
        window = fair_lending.merged(history, spec, "1", "week", start)
        history.write(window.records(spec.name, spec.fairness.min_ratio))
        windows.append(window)
    red = fair_lending.pending(history, spec.name, windows)
    assert {(w.kind, w.start) for w in red} >= {("week", monday)}
    assert not [w for w in red if window_end(w.kind, w.start) < planted]  # nothing before the disparity
    print(f"\nplanted disparity from {planted}: red windows {sorted((w.kind, str(w.start)) for w in red)}")
