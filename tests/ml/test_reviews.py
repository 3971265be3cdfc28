"""The reviews zone (ml.monitor.reviews): decisions checked against the rows scoring wrote, the bad ones
quarantined with their reason, the last decision of a row counting, and the command's counts."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from ml import layout
from ml.cli import main
from ml.monitor import reviews as review_queue
from ml.spec import DatasetSpec, get_spec
from ml.storage import Storage
from tests.helpers import write_scored_day

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 7, 6)
THRESHOLD = 0.2
HEADER = "id,application_date,decision,reviewer,reason\n"


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return get_spec(REPO / "datasets", "give_me_some_credit")


def scored(storage: Storage, spec: DatasetSpec) -> dict[str, list[str]]:
    """One day of 80 rows scored by version 1 with PDs spread over approve, review and decline; the ids of each."""
    p = np.linspace(0.01, 0.4, 80)  # review from 0.6 x 0.2 = 0.12 up to 0.2
    write_scored_day(storage, spec, DAY, "1", p, threshold=THRESHOLD)
    ids = np.arange(1, 81).astype(str)
    return {"approve": list(ids[p < 0.12]), "review": list(ids[(p >= 0.12) & (p < 0.2)]), "decline": list(ids[p >= 0.2])}


def land(storage: Storage, spec: DatasetSpec, decided: dt.date, text: str, name: str = "decisions.csv") -> None:
    storage.write_bytes(f"{layout.reviews(spec.name, decided)}/{name}", text.encode())


def test_good_decisions_are_joined_to_their_scored_rows(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    ids = scored(storage, spec)["review"]
    land(storage, spec, DAY + dt.timedelta(days=2),
         HEADER + f"{ids[0]},{DAY},Approve ,Ada,income verified\n{ids[1]},{DAY},decline,Bo,\"debt, too high\"\n")
    reviews = review_queue.check_reviews(storage, spec, DAY + dt.timedelta(days=2))
    a = reviews.accepted.set_index("id")
    assert list(a.index) == ids[:2]
    assert list(a["decision"]) == ["approve", "decline"] and list(a["reviewer"]) == ["Ada", "Bo"]
    assert a.loc[ids[1], "reason"] == "debt, too high"
    assert set(a["version"]) == {"1"} and set(a["policy_decision"]) == {"review"}
    assert a["pd"].between(0.12, 0.2).all() and a["band"].notna().all()
    manifest = storage.read_json(layout.reviews_manifest(spec.name, DAY + dt.timedelta(days=2)))
    assert (manifest["rows_in"], manifest["rows_accepted"], manifest["rows_quarantined"]) == (2, 2, 0)
    assert not storage.exists(layout.reviews_quarantine(spec.name, DAY + dt.timedelta(days=2)))


def test_bad_rows_are_quarantined_with_their_reason(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    ids = scored(storage, spec)
    decided = DAY + dt.timedelta(days=1)
    review = ids["review"]
    rows = [
        f"{review[0]},{DAY},approve,Ada,ok",  # accepted
        f"{review[1]},{DAY},maybe,Ada,unsure",
        f"{review[2]},{DAY},approve,,ok",
        f"{review[3]},{DAY},approve,Ada,",
        f"{review[4]},06/07/2026,approve,Ada,ok",
        f"{review[5]},{DAY + dt.timedelta(days=5)},approve,Ada,ok",
        f"{review[6]},{DAY},approve,Ada",
        f"{ids['approve'][0]},{DAY},decline,Ada,second look",
        f"{ids['decline'][0]},{DAY},approve,Ada,known customer",
        f"999999,{DAY},approve,Ada,ok",
        f"{review[7]},{DAY - dt.timedelta(days=1)},approve,Ada,ok",
        f",{DAY},approve,Ada,ok",
        f"{review[8]},{DAY},approve,{'x' * 501},ok",
    ]
    land(storage, spec, decided, HEADER + "\n".join(rows) + "\n")
    land(storage, spec, decided, "id,decision\n1,approve\n", name="other.csv")
    reviews = review_queue.check_reviews(storage, spec, decided)
    assert list(reviews.accepted["id"]) == [review[0]]
    q = review_queue.quarantined(storage, spec.name, decided)
    reasons = dict(zip(zip(q["source_file"], q["line"], strict=True), q["reason"], strict=True))
    f = "decisions.csv"
    assert reasons[(f, 3)] == "decision: 'maybe' is not approve or decline"
    assert reasons[(f, 4)] == "reviewer: blank" and reasons[(f, 5)] == "reason: blank"
    assert reasons[(f, 6)] == "application_date: '06/07/2026' is not a date (YYYY-MM-DD)"
    assert reasons[(f, 7)] == f"application_date: {DAY + dt.timedelta(days=5)} is after the decision date {decided}"
    assert reasons[(f, 8)] == "shape: 4 fields, the header has 5"
    assert reasons[(f, 9)] == f"not sent to review: the policy decided approve on {DAY}"
    assert reasons[(f, 10)] == f"not sent to review: the policy decided decline on {DAY}"
    assert reasons[(f, 11)] == f"not scored: id 999999 is not among the rows scored on {DAY}"
    assert reasons[(f, 12)] == f"not scored: {spec.name} has no scores of {DAY - dt.timedelta(days=1)}"
    assert reasons[(f, 13)] == "id: blank"
    assert reasons[(f, 14)] == "reviewer: longer than 500 characters"
    assert reasons[("other.csv", 2)] == "header: the file has no column application_date, reviewer, reason"
    assert q.loc[q["line"] == 3, "raw"].item() == f"{review[1]},{DAY},maybe,Ada,unsure"
    manifest = storage.read_json(layout.reviews_manifest(spec.name, decided))
    assert manifest["rows_in"] == 14 == manifest["rows_accepted"] + manifest["rows_quarantined"]
    assert manifest["reasons"]["not scored"] == 2 and manifest["reasons"]["not sent to review"] == 2


def test_the_last_decision_of_a_row_counts(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    row = scored(storage, spec)["review"][0]
    land(storage, spec, DAY + dt.timedelta(days=1), HEADER + f"{row},{DAY},approve,Ada,first\n"
                                                              f"{row},{DAY},decline,Ada,second thoughts\n")
    land(storage, spec, DAY + dt.timedelta(days=3), HEADER + f"{row},{DAY},approve,Bo,appeal upheld\n")
    early = review_queue.load_reviews(storage, spec, DAY + dt.timedelta(days=2))
    assert early.accepted[["decision", "reason"]].values.tolist() == [["decline", "second thoughts"]]
    assert early.superseded == 1
    late = review_queue.load_reviews(storage, spec, DAY + dt.timedelta(days=3))
    assert late.accepted[["decision", "reviewer"]].values.tolist() == [["approve", "Bo"]] and late.superseded == 2


def test_the_command_prints_the_counts_and_quarantines(tmp_path: Path, spec: DatasetSpec, capsys,
                                                       monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RISKOPS_DATA", str(tmp_path))
    storage = Storage(str(tmp_path))
    review = scored(storage, spec)["review"]
    decided = DAY + dt.timedelta(days=1)
    land(storage, spec, decided, HEADER + f"{review[0]},{DAY},approve,Ada,ok\n{review[1]},{DAY},decline,Bo,no\n"
                                          f"{review[2]},{DAY},later,Bo,no\n")
    args = ["reviews", "--dataset", spec.name, "--as-of", decided.isoformat()]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{decided} {spec.name}: in 3, accepted 2, quarantined 1 (decision 1)"
    assert lines[1].startswith(f"{spec.name} as of {decided}: 2 rows decided (approve 1, decline 1; by band: ")
    assert storage.exists(layout.reviews_quarantine(spec.name, decided))
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["accepted"], out["quarantined"], out["decisions"]) == (2, 1, {"approve": 1, "decline": 1})
    with pytest.raises(SystemExit) as exit_:
        main(["reviews", "--dataset", spec.name, "--as-of", "not-a-date"])
    assert exit_.value.code == 2 and "'not-a-date' is not a date" in capsys.readouterr().err


def test_hostile_files_are_quarantined_not_tracebacks(tmp_path: Path, spec: DatasetSpec) -> None:
    storage = Storage(str(tmp_path))
    review = scored(storage, spec)["review"]
    decided = DAY + dt.timedelta(days=1)
    huge = "x" * (csv.field_size_limit() + 1)  # over the csv module's field limit
    land(storage, spec, decided, HEADER + f"{review[0]},{DAY},approve,Ada,\"{huge}\"\n{review[1]},{DAY},approve,Ada,ok\n")
    land(storage, spec, decided, HEADER + f"{review[2]},{DAY},approve,Ad\xe9,ok\n", name="b.csv")  # UTF-8: accepted
    storage.write_bytes(f"{layout.reviews(spec.name, decided)}/c.csv", (HEADER + f"{review[3]},{DAY},approve,Ad").encode()
                        + b"\xe9,ok\n")
    storage.write_bytes(f"{layout.reviews(spec.name, decided)}/empty.csv", b"")
    reviews = review_queue.check_reviews(storage, spec, decided)
    assert sorted(reviews.accepted["id"]) == sorted([review[1], review[2]])
    q = review_queue.quarantined(storage, spec.name, decided)
    reasons = dict(zip(q["source_file"], q["reason"], strict=True))
    assert reasons["decisions.csv"].startswith("shape: field larger than field limit")
    assert reasons["c.csv"] == "encoding: the file is not UTF-8"
    manifest = storage.read_json(layout.reviews_manifest(spec.name, decided))
    assert manifest["rows_in"] == 4 == manifest["rows_accepted"] + manifest["rows_quarantined"]


def test_a_decision_on_a_day_the_fallback_policy_decided_is_joined_to_it(tmp_path: Path, spec: DatasetSpec) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    storage = Storage(str(tmp_path))
    out = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": ["7", "8"], "pd": pa.array([None, None], pa.float64()),
                             "band": pa.array([None, None], pa.string()), "decision": ["review", "decline"],
                             "hard_rule": pa.array([None, "HR02-SERIOUS-DELINQUENCY"], pa.string())}), out)
    storage.write_bytes(layout.scores(spec.name, DAY, layout.FALLBACK), out.getvalue().to_pybytes())
    land(storage, spec, DAY, HEADER + f"7,{DAY},approve,Ada,checked by hand\n8,{DAY},approve,Ada,appeal\n")
    reviews = review_queue.check_reviews(storage, spec, DAY)
    (row,) = reviews.accepted.to_dict("records")
    assert (row["id"], row["version"], row["band"]) == ("7", layout.FALLBACK, None) and np.isnan(row["pd"])
    assert list(review_queue.quarantined(storage, spec.name, DAY)["reason"]) == [
        f"not sent to review: the policy decided decline on {DAY}"]
