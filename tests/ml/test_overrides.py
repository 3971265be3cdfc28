"""The reviewers against the model (ml.monitor.overrides): seeded counts against a pandas reference, the
alert range of the spec, and the backtest's figures on files written as scoring and the case tool write them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest

from ml import layout
from ml.monitor import backtest, backtest_history, overrides
from ml.monitor.reviews import check_reviews
from ml.spec import DatasetSpec, OverrideRate, get_spec
from ml.storage import Storage
from tests.helpers import write_scored_day

REPO = Path(__file__).resolve().parents[2]
FIRST = dt.date(2026, 7, 6)  # a Monday
THRESHOLD = 0.2
ROWS = 3000


def _reference(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The figures per band and overall, computed row by row in pandas."""
    frame = frame.assign(suggest=np.where(frame["pd"] < threshold, "approve", "decline"))
    out = {}
    for band, g in [*frame.groupby("band"), (overrides.ALL, frame)]:
        sent = g[g["final"] == "review"]
        decided = sent[sent["reviewer"] != ""]
        matured = g[g["y"] >= 0]
        rev = matured[(matured["final"] == "review") & (matured["reviewer"] == "approve")]
        mod = matured[matured["final"] == "approve"]
        out[band] = {"sent": len(sent), "decided": len(decided),
                     "overridden": int((decided["reviewer"] != decided["suggest"]).sum()),
                     "rev_rows": len(rev), "rev_rate": rev["y"].mean() if len(rev) else np.nan,
                     "mod_rows": len(mod), "mod_rate": mod["y"].mean() if len(mod) else np.nan}
    return pd.DataFrame(out).T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_equal_a_row_by_row_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000
    names = ["A", "B", "C", "D", "E"]
    frame = pd.DataFrame({"band": rng.choice(names, n), "pd": rng.uniform(0, 0.4, n),
                          "final": rng.choice(["approve", "review", "decline"], n, p=[0.5, 0.3, 0.2])})
    frame["reviewer"] = np.where((frame["final"] == "review") & (rng.uniform(size=n) < 0.6),
                                 rng.choice(["approve", "decline"], n), "")
    frame["y"] = np.where(rng.uniform(size=n) < 0.7, (rng.uniform(size=n) < frame["pd"]).astype(int), -1)
    counts: overrides.Counts = {}
    for part in np.array_split(np.arange(n), 4):  # as the backtest adds them: a day at a time
        g = frame.iloc[part]
        codes = np.array([names.index(b) for b in g["band"]], np.int64)
        reviewer = np.select([g["reviewer"] == "approve", g["reviewer"] == "decline"], [overrides.APPROVE, overrides.DECLINE],
                             overrides.NO_DECISION).astype(np.int64)
        overrides.add_reviews(counts, codes, names, (g["final"] == "review").to_numpy(),
                       overrides.suggestion(g["pd"].to_numpy(), THRESHOLD), reviewer)
        m = (g["y"] >= 0).to_numpy()
        overrides.add_outcomes(counts, codes[m], names, (g["final"] == "approve").to_numpy()[m],
                        reviewer[m] == overrides.APPROVE, g["y"].to_numpy()[m].astype(np.int64))
    result = overrides.summarise(counts, OverrideRate(min=0.05, max=0.5, min_decided=10))
    ref = _reference(frame, THRESHOLD)
    for r in [*result.bands, result.overall]:
        e = ref.loc[r.band]
        assert (r.sent, r.decided, r.overridden) == (e["sent"], e["decided"], e["overridden"]), r.band
        assert r.decided_share == pytest.approx(e["decided"] / e["sent"])
        assert r.override_rate == pytest.approx(e["overridden"] / e["decided"])
        assert (r.matured_reviewer_approved, r.matured_model_approved) == (e["rev_rows"], e["mod_rows"])
        assert r.reviewer_approved_default_rate == pytest.approx(e["rev_rate"], nan_ok=True)
        assert r.model_approved_default_rate == pytest.approx(e["mod_rate"], nan_ok=True)
    assert [r.band for r in result.bands] == names
    # reviewers decide at random here: about half of them against the model, inside 5 %..50 % or just above
    assert result.judged and bool(result.alerts) == (result.overall.override_rate > 0.5)


def test_an_override_rate_outside_the_range_alerts_once_enough_reviews_are_decided() -> None:
    names = ["A"]
    counts: overrides.Counts = {}
    sent = np.ones(40, bool)
    reviewer = np.full(40, overrides.APPROVE, np.int64)  # the model suggests approve on all: no override at all
    overrides.add_reviews(counts, np.zeros(40, np.int64), names, sent, np.ones(40, bool), reviewer)
    low = overrides.summarise(counts, OverrideRate(min=0.05, max=0.5, min_decided=30))
    assert low.overall.override_rate == 0.0
    assert low.alerts == ["reviewers overrode the model on 0.0% of 40 decided reviews, outside the expected 5% to 50%"]
    assert overrides.summarise(counts, OverrideRate(min=0.05, max=0.5, min_decided=41)).alerts == []  # too few to judge
    assert overrides.summarise(counts, None).alerts == [] and not overrides.summarise(counts, None).judged
    empty = overrides.summarise({}, OverrideRate())
    assert empty.overall.sent == 0 and np.isnan(empty.overall.override_rate) and empty.alerts == []


def test_the_spec_range_is_validated() -> None:
    assert OverrideRate(min=0.05, max=0.5).min_decided == 30
    for bad in ({"min": 0.6, "max": 0.5}, {"min": -0.1}, {"max": 1.5}, {"min_decided": 0}, {"typo": 1}):
        with pytest.raises(pydantic.ValidationError):
            OverrideRate(**bad)
    gmsc = get_spec(REPO / "datasets", "give_me_some_credit")
    with pytest.raises(pydantic.ValidationError, match="min 0.6 is above max 0.5"):
        DatasetSpec.model_validate({**gmsc.model_dump(exclude_none=True),
                                    "oversight": {"override_rate": {"min": 0.6, "max": 0.5}}})


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    gmsc = get_spec(REPO / "datasets", "give_me_some_credit")
    return gmsc.model_copy(update={
        "fairness": gmsc.fairness.model_copy(update={"attributes": []}),
        "oversight": gmsc.oversight.model_copy(update={"override_rate": OverrideRate(min=0.05, max=0.3,
                                                                                     min_decided=50)})})


def test_the_backtest_reports_the_reviewers_against_the_model(tmp_path: Path, spec: DatasetSpec) -> None:
    """Seven matured days; a reviewer decides two thirds of each day's review queue, approving a row when its
    PD is below 0.15; the figures equal those computed from the files directly."""
    storage = Storage(str(tmp_path))
    rng = np.random.default_rng(7)
    rows = []
    for i in range(7):
        day = FIRST + dt.timedelta(days=i)
        p = 1 / (1 + np.exp(-rng.normal(-2.2, 1.0, ROWS)))
        y = (rng.uniform(size=ROWS) < p).astype(int)
        write_scored_day(storage, spec, day, "1", p, y, THRESHOLD, first_id=1 + i * ROWS)
        ids = np.arange(1 + i * ROWS, 1 + (i + 1) * ROWS)
        review = (p >= 0.6 * THRESHOLD) & (p < THRESHOLD)
        pick = review & (rng.uniform(size=ROWS) < 2 / 3)
        decision = np.where(p < 0.15, "approve", "decline")
        lines = "".join(f"{k},{day},{d},Ada,policy\n" for k, d in zip(ids[pick], decision[pick], strict=True))
        storage.write_bytes(f"{layout.reviews(spec.name, day + dt.timedelta(days=1))}/cases.csv",
                            ("id,application_date,decision,reviewer,reason\n" + lines).encode())
        rows.append(pd.DataFrame({"pd": p, "y": y, "review": review, "pick": pick, "decision": decision,
                                  "approve": p < 0.6 * THRESHOLD}))
    frame = pd.concat(rows)
    as_of = FIRST + dt.timedelta(days=6 + 60)
    reviews = check_reviews(storage, spec, as_of)
    assert len(reviews.accepted) == frame["pick"].sum()
    plan = backtest.plan(storage, spec, as_of, 2)
    result = backtest.run(storage, spec, plan, {"1": backtest.ModelFacts("1", THRESHOLD, 2.0)}, reviews=reviews.accepted)
    o = result.overrides
    assert o is not None
    decided = frame[frame["pick"]]
    assert (o.overall.sent, o.overall.decided) == (frame["review"].sum(), len(decided))
    # every review row has PD < threshold: the model suggests approve, so a decline is an override
    assert o.overall.overridden == (decided["decision"] == "decline").sum()
    approved = decided[decided["decision"] == "approve"]
    assert o.overall.reviewer_approved_default_rate == pytest.approx(approved["y"].mean())
    assert o.overall.model_approved_default_rate == pytest.approx(frame.loc[frame["approve"], "y"].mean())
    assert sum(b.decided for b in o.bands) == o.overall.decided
    assert o.overall.override_rate > 0.3 and o.alerts and o.alerts[0] in result.alerts
    records = backtest_history.records(result, spec.monitoring.backtest)
    overall = {r.statistic: r for r in records if r.feature == overrides.ALL}
    assert overall["override_rate"].light == "red" and overall["override_rate"].model_version == ""
    assert overall["review_decided_share"].value == pytest.approx(len(decided) / frame["review"].sum())
    assert {r.feature for r in records if r.statistic == "override_rate"} == {*(b.band for b in o.bands), overrides.ALL}
    # without reviews read, no figures and no alert
    assert backtest.run(storage, spec, plan, {"1": backtest.ModelFacts("1", THRESHOLD, 2.0)}).overrides is None
