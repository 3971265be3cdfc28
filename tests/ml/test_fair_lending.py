"""Fair lending through the flow, on the scored card days (a real MLflow store, history and files): the candidate's
figures and verdict, the nightly decisions per group in the history (days, weeks from days), the fairness alert
once, the weekly PDF's page; and the backtest's outcomes per group."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from mlflow import MlflowClient
from pypdf import PdfReader

from ml import fairness, layout
from ml.config import TrainConfig
from ml.dates import date_range
from ml.errors import RiskopsError
from ml.governance import registry
from ml.model.train import development_sample
from ml.model.verdict import NOT_RECOMMENDED
from ml.monitor import backtest, backtest_history, fair_lending
from ml.monitor.check import check_stability
from ml.monitor.history import History
from ml.monitor.stability import Reference
from ml.retraining.retrain import build_candidate
from ml.spec import get_spec
from ml.storage import Storage
from tests.conftest import CARDS_DAYS, CARDS_START, DRIFT_START
from tests.helpers import write_scored_day

REPO = Path(__file__).resolve().parents[2]
SPEC = get_spec(REPO / "datasets", "card_transactions")
DAYS = date_range(CARDS_START, CARDS_START + dt.timedelta(days=CARDS_DAYS - 1))
STRICT = SPEC.model_copy(update={"fairness": SPEC.fairness.model_copy(update={"min_ratio": 1.0, "min_group_rows": 1})})


def _reference(version: str) -> Reference:
    model = registry.load_model(MlflowClient(), registry.model_name(SPEC.name), version)
    return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical,
                        (model.meta.get("reasons") or {}).get("first"))


def _check(env: dict, spec=SPEC, run_key: str | None = "run-1") -> dict:
    return check_stability(Storage(str(env["data"])), spec, DAYS, History.open(env["history"]), _reference,
                           run_key=run_key)


def _day(env: dict, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    storage = Storage(str(env["data"]))
    scores = storage.read_parquet(layout.scores(SPEC.name, day, "1"))
    curated = storage.read_parquet(layout.curated(SPEC.name, day))
    return curated["customer_age"].to_numpy(dtype=float, na_value=np.nan), (scores["decision"] == "approve").to_numpy()


def test_the_history_holds_the_decisions_per_group_and_weeks_add_their_days(cards_env):
    summary = _check(cards_env, run_key=None)
    history = History.open(cards_env["history"])
    day = DAYS[3]
    age, approved = _day(cards_env, day)
    groups = np.array(["under 25" if a < 25 else "62 and over" if a >= 62 else "25 to 61" if a == a else "(missing)"
                       for a in age])
    frame = MetricFrame(metrics=selection_rate, y_true=approved.astype(int), y_pred=approved.astype(int),
                        sensitive_features=groups).by_group
    rows = {r.feature: r for r in history.read(SPEC.name, window_kind="day", window_starts=[day],
                                                statistics=[fair_lending.APPROVAL])}
    ratios = {r.feature: r for r in history.read(SPEC.name, window_kind="day", window_starts=[day],
                                                  statistics=[fair_lending.RATIO])}
    for group, rate in frame.items():
        assert rows[f"customer_age={group}"].value == pytest.approx(rate, abs=1e-12)
        assert ratios[f"customer_age={group}"].value == pytest.approx(rate / frame["25 to 61"], abs=1e-12)
    young = ratios["customer_age=under 25"]
    assert young.detail["low"] < young.value < young.detail["high"] and young.light in ("green", "red")
    # the ISO week of 2026-09-14 is made of its days' counts
    week = {r.feature: r for r in history.read(SPEC.name, window_kind="week", window_starts=[dt.date(2026, 9, 14)],
                                                statistics=[fair_lending.APPROVAL])}
    days = [r for r in history.read(SPEC.name, window_kind="day", since=dt.date(2026, 9, 14),
                                    until=dt.date(2026, 9, 20), statistics=[fair_lending.APPROVAL])]
    for key, r in week.items():
        assert r.detail["rows"] == sum(d.detail["rows"] for d in days if d.feature == key)
        assert r.detail["approved"] == sum(d.detail["approved"] for d in days if d.feature == key)
    assert {w["kind"] for w in summary["fairness"]} == {"day", "week", "month"}
    assert summary["fairness_alert"] is None  # without a run key nothing is mailed

    # the weekly PDF's fair lending page shows the week's groups, the ratios and the reason mix
    pdf = Storage(str(cards_env["data"])).read_bytes(summary["reports"][0]["key"])
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "5. Fair lending and reasons" in text and "customer_age (monitored), against 25 to 61" in text
    assert "Adverse impact ratio by ISO week" in text and "Reason mix by day" in text
    assert "C01: Transaction amount" in text and "Shift (PSI)" in text


def test_a_ratio_below_the_minimum_alerts_once(cards_env):
    summary = _check(cards_env, STRICT)  # a group approved less than the reference is below a minimum of 1
    alert = summary["fairness_alert"]
    assert alert is not None and alert["subject"].startswith("[riskops] card_transactions fair lending RED:")
    assert "customer_age group" in alert["html"] and "below 1" in alert["html"]
    history = History.open(cards_env["history"])
    red = history.read(SPEC.name, statistics=[fair_lending.WINDOW])
    assert "red" in {r.light for r in red} and all(
        bool(r.detail["below"]) == (r.light in ("amber", "red")) and bool(r.detail["red"]) == (r.light == "red")
        for r in red)
    assert {(w["kind"], w["start"]) for w in alert["windows"]} == {(r.window_kind, r.window_start.isoformat())
                                                                  for r in red if r.light == "red"}
    fair_lending.record_sent(history, SPEC.name, alert["windows"], ["risk@example.com"], alert["subject"])
    assert fair_lending.unsent(history, SPEC.name, alert["windows"]) == []
    assert _check(cards_env, STRICT, run_key="run-2")["fairness_alert"] is None  # once per window


def test_the_candidate_decides_as_production_and_is_not_recommended_below_the_minimum(cards_env):
    storage = Storage(str(cards_env["data"]))
    as_of = DRIFT_START + dt.timedelta(days=SPEC.label.maturity_lag_days - 1)
    config = TrainConfig(window_days=(DRIFT_START - CARDS_START).days, valid_days=1, test_days=2,
                         num_boost_round=60, early_stopping_rounds=10)
    sample = development_sample(storage, SPEC, as_of, config.window_days)
    fair = build_candidate(SPEC, as_of, sample, config, None)
    review = fair.fairness
    assert review is not None and review.champion is None and review.reasons_from_spec
    test = fair.parts["test"]
    p = fair.model.predict_proba(test)
    from ml.model.fairness_review import decisions

    approved = np.asarray(decisions(fair.model, SPEC, test, p)["decision"] == "approve")
    codes, names = fairness.group_codes(test["customer_age"], SPEC.fairness.attributes[0], SPEC)
    by_group = MetricFrame(metrics=selection_rate, y_true=test["label"], y_pred=approved.astype(int),
                           sensitive_features=np.array(names)[codes]).by_group
    for r in review.challenger[0]:
        assert r.approval_rate == pytest.approx(by_group[r.group])
    assert [p.feature for p in review.proxies["customer_age"]] and "customer_age" not in \
        [p.feature for p in review.proxies["customer_age"]]
    assert sum(r["first"] for r in review.reasons) == review.explained_rows > 0
    assert fair.model.meta["reasons"]["first"]  # the mix monitoring compares with

    strict = build_candidate(STRICT, as_of, sample, config, None)
    assert strict.verdict == NOT_RECOMMENDED
    assert strict.verdict_reason.startswith("adverse impact ratio below the minimum 1 for customer_age group")
    assert strict.fairness and strict.fairness.below


def test_the_backtest_gives_default_and_approved_bad_rates_per_group(tmp_path: Path):
    gmsc = get_spec(REPO / "datasets", "give_me_some_credit")
    storage = Storage(str(tmp_path))
    rng = np.random.default_rng(3)
    first = dt.date(2026, 7, 6)
    frames = []
    for i in range(7):
        age = rng.integers(18, 90, 2_000)
        p = 1 / (1 + np.exp(-(rng.normal(-2.6, 1.0, len(age)) + np.where(age < 25, 1.0, 0.0))))
        y = (rng.uniform(size=len(p)) < p).astype(int)
        write_scored_day(storage, gmsc, first + dt.timedelta(days=i), "3", p, y, first_id=1 + i * 2_000,
                         curated={"age": age})
        frames.append(pd.DataFrame({"age": age, "y": y, "approved": p < 0.2 * 0.6}))  # the helper's threshold
    plan = backtest.plan(storage, gmsc, first + dt.timedelta(days=6 + 60), 4)
    result = backtest.run(storage, gmsc, plan, {"3": backtest.ModelFacts("3", 0.2, 2.0, 0.8)})
    rows = {r.group: r for r in result.versions[0].fairness[0]}
    all_rows = pd.concat(frames)
    young = all_rows[all_rows["age"] < 25]
    assert rows["under 25"].rows == len(young)
    assert rows["under 25"].default_rate == pytest.approx(young["y"].mean())
    assert rows["under 25"].approved_bad_rate == pytest.approx(young.loc[young["approved"], "y"].mean())
    assert rows["under 25"].approval_rate == pytest.approx(young["approved"].mean())
    week = result.weeks[[w.week for w in result.weeks].index(plan.judged[-1].label)]
    assert {r.group: r.rows for r in week.fairness[0]} == {g: r.rows for g, r in rows.items()}  # one week judged
    records = backtest_history.records(result, gmsc.monitoring.backtest)
    stats = {(r.window_kind, r.statistic) for r in records if r.feature == "age=under 25"}
    assert ("backtest", "group_approved_bad_rate") in stats and ("backtest_week", "group_default_rate") in stats
    assert dataclasses.asdict(result)  # plain data for the report


def test_a_scored_day_whose_curated_rows_differ_is_refused(tmp_path: Path):
    gmsc = get_spec(REPO / "datasets", "give_me_some_credit")
    storage = Storage(str(tmp_path))
    day = dt.date(2026, 7, 6)
    write_scored_day(storage, gmsc, day, "3", np.full(10, 0.1), np.zeros(10, int), curated={"age": np.arange(10)})
    write_scored_day(storage, gmsc, day, "3", np.full(10, 0.1), np.zeros(10, int), first_id=5)  # other ids
    plan = backtest.plan(storage, gmsc, day + dt.timedelta(days=60), 1)
    with pytest.raises(RiskopsError, match="the scored rows are not the curated rows in order"):
        backtest.run(storage, gmsc, plan, {"3": backtest.ModelFacts("3", 0.2, 2.0, 0.8)})
