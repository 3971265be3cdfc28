"""ml.monitor.backtest: scores joined with matured labels, judged per week and version and over the window,
on files written the way scoring and replay write them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml import layout, metrics
from ml.errors import MissingDataError, RiskopsError
from ml.monitor import backtest
from ml.monitor.bands import BandRow, BandTests
from ml.spec import DatasetSpec, get_spec
from ml.storage import Storage
from tests.helpers import write_scored_day

REPO = Path(__file__).resolve().parents[2]
FIRST = dt.date(2026, 7, 6)  # a Monday: ISO week 2026-W28
ROWS = 2000
THRESHOLD = 0.2


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    # maturity lag 60 days; the scored days here have no curated rows, so no fairness attributes to group them by
    # (tests/ml/test_fair_lending.py backtests groups)
    gmsc = get_spec(REPO / "datasets", "give_me_some_credit")
    return gmsc.model_copy(update={"fairness": gmsc.fairness.model_copy(update={"attributes": []})})


def pds(seed: int, n: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-2.6, 1.2, n)))
    return p, (rng.uniform(size=n) < p).astype(int)


def scored_days(storage: Storage, spec: DatasetSpec, days: int, version: str = "1", seed: int = 0,
                first_id: int = 1) -> dict[dt.date, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for i in range(days):
        day = FIRST + dt.timedelta(days=i)
        p, y = pds(seed + i)
        write_scored_day(storage, spec, day, version, p, y, THRESHOLD, first_id=first_id + i * ROWS)
        out[day] = (p, y)
    return out


def facts(*versions: str, auc: float | None = 0.77) -> dict[str, backtest.ModelFacts]:
    return {v: backtest.ModelFacts(v, THRESHOLD, 2.0, auc, {"A": 1, "B": 3, "C": 4, "D": 1, "E": 1}) for v in versions}


def run(storage: Storage, spec: DatasetSpec, as_of: dt.date, weeks: int = 4,
        **kw) -> backtest.BacktestResult:
    plan = backtest.plan(storage, spec, as_of, weeks)
    return backtest.run(storage, spec, plan, kw.pop("facts", facts(*plan.versions)), **kw)


def test_weeks_and_window_equal_the_metrics_of_the_matured_rows(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    data = scored_days(storage, spec, 14)  # two full ISO weeks
    as_of = FIRST + dt.timedelta(days=13 + 60)
    result = run(storage, spec, as_of)
    assert result.judged_weeks[-2:] == ["2026-W28", "2026-W29"] and len(result.judged_weeks) == 4
    weeks = {w.week: w for w in result.weeks}
    for label, offset in (("2026-W28", 0), ("2026-W29", 7)):
        p = np.concatenate([data[FIRST + dt.timedelta(days=offset + i)][0] for i in range(7)])
        y = np.concatenate([data[FIRST + dt.timedelta(days=offset + i)][1] for i in range(7)])
        perf = weeks[label].performance
        reference = metrics.evaluate(y, p, THRESHOLD, 2.0)
        assert perf.rows == len(y) == weeks[label].rows_scored and perf.defaults == y.sum()
        assert perf.auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        for key in ("gini", "ks", "brier", "log_loss", "precision", "recall", "fbeta"):
            assert getattr(perf, key) == pytest.approx(reference[key], rel=1e-9), key
        assert perf.mean_pd == pytest.approx(p.mean())
        approved = p < 0.6 * THRESHOLD  # the model's decision: review from 0.6 x threshold
        assert perf.approval_rate == pytest.approx(approved.mean())
        assert perf.approved_default_rate == pytest.approx(y[approved].mean())
    p = np.concatenate([v[0] for v in data.values()])
    y = np.concatenate([v[1] for v in data.values()])
    (window,) = result.versions
    assert window.weeks == ["2026-W28", "2026-W29"]
    assert window.performance.rows == len(y)
    assert window.performance.auc == pytest.approx(roc_auc_score(y, p), abs=1e-4)  # from the PD histogram
    assert window.performance.brier == pytest.approx(metrics.brier(y, p), rel=1e-9)
    assert sum(b.rows for b in window.bands.bands) == len(y)
    assert window.alerts == []
    assert result.notes[0] == "No scored rows in 2026-W26..2026-W27, 2026-W35..2026-W38."
    json.dumps(result.to_dict())  # plain values all the way down


def test_unmatured_rows_never_enter_a_metric(tmp_path: Path, spec: DatasetSpec) -> None:
    """Days after the last matured one have labels already landed (lag 0) and all 'defaulted': they must not
    move a single realised number, only the counts of unmatured rows and the estimate."""
    plain, leaky = Storage(str(tmp_path / "a")), Storage(str(tmp_path / "b"))
    scored_days(plain, spec, 10)
    scored_days(leaky, spec, 10)
    for i in range(10, 14):  # Thursday 07-16 .. Sunday 07-19 of week W29
        day = FIRST + dt.timedelta(days=i)
        p, _ = pds(100 + i)
        write_scored_day(leaky, spec, day, "1", p, np.ones(ROWS, int), THRESHOLD, first_id=1 + i * ROWS,
                         label_lag_days=0)
    as_of = FIRST + dt.timedelta(days=9 + 60)  # Wednesday 07-15 has just matured
    a, b = run(plain, spec, as_of), run(leaky, spec, as_of)
    assert [w.performance for w in a.weeks] == [w.performance for w in b.weeks]
    assert a.versions == b.versions
    w29 = next(w for w in b.weeks if w.week == "2026-W29")
    assert (w29.rows_scored, w29.rows_matured, w29.rows_unmatured) == (7 * ROWS, 3 * ROWS, 4 * ROWS)
    assert w29.estimate.rows == 7 * ROWS


def test_label_free_estimate_for_the_weeks_after(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    scored_days(storage, spec, 14)
    as_of = FIRST + dt.timedelta(days=3 + 60)  # only W28's Monday..Thursday matured
    result = run(storage, spec, as_of, weeks=12)
    assert result.estimated_weeks[0] == "2026-W29" and result.estimated_weeks[-1] == "2026-W37"
    assert run(storage, spec, as_of, weeks=4).notes[-1] == (
        "The 5 weeks between the judged window and the last 4 weeks are not read: a longer window (--weeks) "
        "shows them.")
    w29 = next(w for w in result.weeks if w.week == "2026-W29")
    assert w29.performance is None and w29.rows_unmatured == 7 * ROWS
    assert 0.7 < w29.estimate.expected_auc < 0.9 and w29.estimate.auc_low < w29.estimate.auc_high


def test_a_matured_row_without_a_label_is_an_error(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    scored_days(storage, spec, 7)
    p, y = pds(50)
    write_scored_day(storage, spec, FIRST + dt.timedelta(days=7), "1", p, None, THRESHOLD, first_id=10**6)
    with pytest.raises(MissingDataError, match=f"{ROWS} of {ROWS} scored rows .* on 2026-07-13 have matured but "
                                               "have no label"):
        run(storage, spec, FIRST + dt.timedelta(days=7 + 60))


def test_each_row_is_judged_with_the_version_of_record(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    scored_days(storage, spec, 7, version="1")
    # the week after: version 2; its Monday was first scored by version 1, then re-scored by version 2
    for i in range(7, 14):
        day = FIRST + dt.timedelta(days=i)
        p, y = pds(i)
        if i == 7:
            write_scored_day(storage, spec, day, "1", p, y, THRESHOLD, first_id=1 + i * ROWS,
                             scored_at="2026-07-14T01:00:00+00:00")
        write_scored_day(storage, spec, day, "2", p, y, THRESHOLD, first_id=1 + i * ROWS,
                         scored_at="2026-07-15T01:00:00+00:00")
    result = run(storage, spec, FIRST + dt.timedelta(days=13 + 60))
    assert [(w.week, w.version, w.rows_matured) for w in result.weeks] == [
        ("2026-W28", "1", 7 * ROWS), ("2026-W29", "2", 7 * ROWS)]
    assert [(v.version, v.weeks) for v in result.versions] == [("1", ["2026-W28"]), ("2", ["2026-W29"])]


def test_no_matured_rows_is_said_not_failed(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    scored_days(storage, spec, 3)
    result = run(storage, spec, FIRST + dt.timedelta(days=30))
    assert result.versions == [] and all(w.performance is None for w in result.weeks)
    assert result.notes and result.notes[0].startswith("No matured rows as of 2026-08-05")
    empty = run(Storage(str(tmp_path / "none")), spec, FIRST)
    assert empty.weeks == [] and empty.notes[0].startswith("No matured rows")


def test_score_percentiles_by_day(tmp_path: Path, spec: DatasetSpec) -> None:
    from ml.rating import to_score

    storage = Storage(str(tmp_path))
    data = scored_days(storage, spec, 2)
    result = run(storage, spec, FIRST + dt.timedelta(days=70))
    first = result.percentiles[0]
    expected = np.percentile(to_score(data[FIRST][0], spec.policy), [5, 25, 50, 75, 95])
    assert (first.day, first.rows) == (FIRST.isoformat(), ROWS)
    assert [first.p5, first.p25, first.p50, first.p75, first.p95] == pytest.approx(expected)


def test_drifted_model_raises_every_alert(tmp_path: Path, spec: DatasetSpec) -> None:
    """Outcomes twice as likely as the PDs say, and a development AUC far above: the drop, Jeffreys."""
    storage = Storage(str(tmp_path))
    for i in range(7):
        p, _ = pds(i, 5000)
        y = (np.random.default_rng(i).uniform(size=5000) < np.minimum(2 * p, 1)).astype(int)
        write_scored_day(storage, spec, FIRST + dt.timedelta(days=i), "1", p, y, THRESHOLD, first_id=1 + i * 5000)
    result = run(storage, spec, FIRST + dt.timedelta(days=66), facts=facts("1", auc=0.95))
    (version,) = result.versions
    assert version.auc_drop_p < 1e-6
    assert any("significantly below 0.9500" in a for a in result.alerts)
    assert any("Jeffreys test rejects" in a for a in result.alerts)


def test_rank_order_inversion_alert() -> None:
    bands = BandTests([BandRow("A", 100, 9, 0.01, 0.09, 0.0, True), BandRow("B", 100, 5, 0.05, 0.05, 0.5, False)],
                      0.0, 2, 1.0, 1, [("B", "A")], 0.5)
    perf = backtest.Performance(*([100] * 18))
    out = backtest.alerts("3", perf, bands, None, float("nan"), get_spec(REPO / "datasets", "give_me_some_credit")
                    .monitoring.backtest)
    assert out == ["version 3: rank-order inversion: band A defaults more than band B (9.00% vs 5.00%)"]


def test_a_corrected_label_replaces_the_first_and_a_broken_file_is_named(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    data = scored_days(storage, spec, 7)
    as_of = FIRST + dt.timedelta(days=6 + 60)
    before = run(storage, spec, as_of).weeks[0].performance
    # Monday's outcomes all corrected to "defaulted" by a file arriving a day after the first
    ids = np.arange(1, ROWS + 1).astype(str)
    corrected = "id,application_date,label\n" + "".join(f"{i},{FIRST},1\n" for i in ids)
    storage.write_bytes(layout.labels_file(spec.name, FIRST + dt.timedelta(days=61), FIRST), corrected.encode())
    after = run(storage, spec, as_of).weeks[0].performance
    assert after.defaults == before.defaults - data[FIRST][1].sum() + ROWS
    storage.write_bytes(layout.labels_file(spec.name, FIRST + dt.timedelta(days=62), FIRST), b"id,when\n1,x\n")
    with pytest.raises(RiskopsError, match=r"from-2026-07-06.csv is not a labels file"):
        run(storage, spec, as_of)
    # a blank outcome, then an unknown code: unknown outcomes (issue 13), left out of every realised metric and
    # counted, never read as a good loan
    for outcome in ("", "Current"):
        storage.write_bytes(layout.labels_file(spec.name, FIRST + dt.timedelta(days=62), FIRST),
                            f"id,application_date,label\n1,{FIRST},{outcome}\n".encode())
        week = run(storage, spec, as_of).weeks[0]
        assert week.rows_unknown_outcome == 1 and week.performance.rows == after.rows - 1
        assert week.rows_scored == week.rows_matured + week.rows_unmatured + 1
        assert week.performance.defaults == after.defaults - 1  # row 1 had been corrected to a default
