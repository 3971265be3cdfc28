"""The development sample: business days of the calendar, unknown outcomes left out and counted, days that
failed their quality gate left out, and errors that say what was left out (no model is trained here)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ml import layout
from ml.data.labels import matured_labels, outcomes
from ml.data.preprocess import preprocess_day
from ml.dates import business_days, last_business_days
from ml.errors import MissingDataError, QualityGateError
from ml.model.train import development_sample, time_split
from ml.spec import DatasetSpec
from ml.storage import Storage

SPEC = DatasetSpec.model_validate({
    "name": "tiny", "calendar": {"days": "weekdays", "holidays": ["2026-09-07"]},
    "quality": {"max_quarantine_rate": 1},
    "columns": [{"name": "id", "type": "string", "role": "id"}, {"name": "x", "type": "int", "min": 0}],
    "label": {"column": "status", "positive": ["Charged Off"], "negative": ["Fully Paid"], "maturity_lag_days": 10},
})
DAYS = business_days(SPEC, dt.date(2026, 9, 1), dt.date(2026, 9, 11))  # 8 days: no weekend, no 7 September


def _land(storage: Storage, day: dt.date, xs: list[str], statuses: list[str], spec: DatasetSpec = SPEC) -> None:
    ids = [f"{day:%m%d}-{i}" for i in range(len(xs))]
    batch = "id,x\n" + "".join(f"{i},{x}\n" for i, x in zip(ids, xs, strict=True))
    storage.write_bytes(f"{layout.landing('tiny', day)}/batch.csv", batch.encode())
    labels = "id,application_date,label\n" + "".join(f"{i},{day},{s}\n" for i, s in zip(ids, statuses, strict=True))
    storage.write_bytes(layout.labels_file("tiny", day + dt.timedelta(days=10), day), labels.encode())
    try:
        preprocess_day(storage, spec, day)
    except QualityGateError:
        pass


def test_calendar_helpers():
    assert [d.isoformat() for d in DAYS] == ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-08",
                                             "2026-09-09", "2026-09-10", "2026-09-11"]
    assert last_business_days(SPEC, dt.date(2026, 9, 8), 3) == [dt.date(2026, 9, 3), dt.date(2026, 9, 4),
                                                                 dt.date(2026, 9, 8)]
    plain = SPEC.model_copy(update={"calendar": SPEC.calendar.model_copy(update={"days": "weekdays", "holidays": []})})
    assert last_business_days(plain, dt.date(2026, 9, 6), 1) == [dt.date(2026, 9, 4)]


def test_outcomes_are_positive_negative_or_unknown():
    values = pd.Series(["Charged Off", " charged off ", "Fully Paid", "", "Current", None, "NA"])
    assert outcomes(values, SPEC.label).tolist() == [1, 1, 0, pd.NA, pd.NA, pd.NA, pd.NA]


def test_unknown_outcomes_are_left_out_and_counted(tmp_path):
    storage = Storage(str(tmp_path))
    for day in DAYS:
        _land(storage, day, ["1", "2", "3", "4"], ["Charged Off", "Fully Paid", "Current", ""])
    as_of = DAYS[-1] + dt.timedelta(days=10)
    labels = matured_labels(storage, SPEC, as_of)
    assert labels["label"].isna().sum() == 2 * len(DAYS)  # read as unknown, never as 0
    sample = development_sample(storage, SPEC, as_of, window_days=5)
    assert sample.window == (DAYS[3], DAYS[-1])  # five business days back, over the weekend and the holiday
    assert len(sample.frame) == 10 and sorted(sample.frame["label"].unique()) == [0, 1]
    assert sample.accounting == {
        "business_days": 5, "days_used": 5, "missing_days": [], "failed_quality_days": [],
        "fully_quarantined_days": [], "positive_outcomes": 5, "negative_outcomes": 5, "unknown_outcomes": 10}
    with pytest.raises(MissingDataError, match=r"^5 business days with rows in the window \(left out: 10 rows with "
                                               r"an unknown outcome\); need at least 7"):
        time_split(sample.frame, 3, 3, sample.left_out())


def test_days_whose_rows_were_all_quarantined_are_named(tmp_path):
    storage = Storage(str(tmp_path))
    for day in DAYS:
        _land(storage, day, ["-1", "oops"], ["Fully Paid", "Charged Off"])
    with pytest.raises(MissingDataError) as error:
        development_sample(storage, SPEC, DAYS[-1] + dt.timedelta(days=10), window_days=8)
    assert str(error.value) == (
        "no clean rows for 'tiny' between 2026-09-01 and 2026-09-11 (as of 2026-09-21, maturity lag 10 days): 8 "
        "business days were preprocessed but every one of their rows was quarantined (top reasons: x in 16 rows "
        "(e.g. x: -1 is below the minimum 0)); see quarantine/tiny")


def test_days_that_failed_their_quality_gate_are_left_out(tmp_path):
    storage, strict = Storage(str(tmp_path)), SPEC.model_copy(update={"quality": SPEC.quality.model_copy(
        update={"max_quarantine_rate": 0.3})})
    for i, day in enumerate(DAYS):
        bad = i in (2, 5)  # two days half broken: they fail the 30 % gate
        _land(storage, day, ["1", "-1" if bad else "2"], ["Charged Off", "Fully Paid"], strict)
    sample = development_sample(storage, strict, DAYS[-1] + dt.timedelta(days=10), window_days=8)
    assert sample.accounting["failed_quality_days"] == [DAYS[2].isoformat(), DAYS[5].isoformat()]
    assert sorted(sample.frame["business_date"].dt.date.unique()) == [d for i, d in enumerate(DAYS) if i not in (2, 5)]
    assert "2 days that failed their quality gate" in sample.left_out()


def test_a_window_of_failed_days_says_so(tmp_path):
    storage, strict = Storage(str(tmp_path)), SPEC.model_copy(update={"quality": SPEC.quality.model_copy(
        update={"min_rows": 5})})
    for day in DAYS[:2]:
        _land(storage, day, ["1", "2"], ["Charged Off", "Fully Paid"], strict)
    with pytest.raises(MissingDataError, match=r"no usable days for 'tiny' between 2026-09-01 and 2026-09-02 .*: "
                                               r"every preprocessed one failed its data-quality gate \(2026-09-01, "
                                               r"2026-09-02\)"):
        development_sample(storage, strict, DAYS[1] + dt.timedelta(days=10), window_days=2)
