"""The "Adding a dataset" example of docs/datasets.md, run the way the docs run it: one spec file and a messy raw loan
file (tests/fixtures/loans) go from replay to scores through `python -m ml` (in-process), with no code.

The raw file has money strings ('$12,000.00 ', 'USD 5,000', '(250.00)'), dd-Mon-yy dates with two-digit years,
text outcomes with unknowns, weekend and holiday applications, a date feature and 24 broken rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from ml import layout
from ml.cli import main
from ml.dates import business_days, date_range
from ml.governance import registry
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "loans"
SPEC = get_spec(FIXTURE, "loans")
START, END = "2026-09-01", "2026-10-14"
AS_OF = "2026-11-13"  # END + the 30-day maturity lag
DAYS = business_days(SPEC, dt.date.fromisoformat(START), dt.date.fromisoformat(END))
RAW = pd.read_csv(FIXTURE / "loans.csv", dtype=str, keep_default_na=False).set_index("loan_id")


def test_the_docs_show_this_spec():
    assert (FIXTURE / "loans.yaml").read_text() in (REPO / "docs" / "datasets.md").read_text()


def _row(storage: Storage, loan_id: str) -> pd.Series:
    for day in DAYS:
        curated = storage.read_parquet(layout.curated("loans", day)).set_index("loan_id")
        if loan_id in curated.index:
            return curated.loc[loan_id]
    raise AssertionError(f"{loan_id} is not curated")


def test_from_a_messy_raw_file_to_scores_with_one_spec(data_root, mlflow_store, monkeypatch, capsys):
    monkeypatch.setenv("RISKOPS_SPECS", str(FIXTURE))
    storage = Storage(str(data_root))
    assert len(DAYS) == 30  # six weeks of weekdays, minus two holidays

    assert main(["replay", "--dataset", "loans", "--start", START, "--end", END]) == 0
    assert "1300 rows over 30 business days" in capsys.readouterr().out
    landed = {layout.folder_date(d) for d in storage.list_dirs(f"{layout.LANDING}/loans")}
    assert landed == set(DAYS)  # no batch on weekends and holidays: their applications come with the next batch
    assert storage.exists(f"{layout.landing('loans', DAYS[0])}/_CONTROL.json")

    assert main(["preprocess", "--dataset", "loans", "--start", START, "--end", END]) == 0
    manifests = [storage.read_json(layout.preprocess_manifest("loans", d)) for d in DAYS]
    assert sum(m["rows_in"] for m in manifests) == len(RAW)  # every row of the file, none lost
    assert all(m["rows_in"] == m["rows_clean"] + m["rows_quarantined"] and m["quality"]["passed"] for m in manifests)
    assert all(m["ignored"] == [{"name": "_CONTROL.json", "reason": "the batch's completion marker"}]
               for m in manifests)
    monday = storage.read_json(layout.preprocess_manifest("loans", dt.date(2026, 9, 8)))  # after a holiday weekend
    weekend = sum(RAW["application_date"].isin(["5-Sep-26", "6-Sep-26", "7-Sep-26", "8-Sep-26"]))
    assert monday["rows_in"] == weekend
    quarantine = pd.concat([storage.read_parquet(layout.quarantine("loans", d)) for d in DAYS])
    reasons = quarantine["reason"].str.extract(r"^(\w+): (.*)$")
    assert reasons[0].value_counts().to_dict() == {"loan_amount": 8, "grade": 8, "earliest_credit_line": 8}
    assert reasons[1][reasons[0] == "loan_amount"].eq("'$12,0O0.00' is not a number").all()
    assert reasons[1][reasons[0] == "earliest_credit_line"].str.match(
        r"'1-Jan-29' \(2029-01-01\) is after the maximum 2026-\d\d-\d\d \(the business date\)").all()

    # money, negatives in parentheses, two-digit years before the pivot, an ignored money column: all read
    usd = RAW.index[RAW["loan_amount"].str.startswith("USD") & ~RAW.index.isin(quarantine["raw"].str[:6])][0]
    negative = RAW.index[RAW["net_cash_flow"].str.startswith("(")][0]
    sixties = RAW.index[RAW["earliest_credit_line"].str.contains(r"-6\d$")][0]
    row = _row(storage, usd)
    assert row["loan_amount"] == float(RAW.loc[usd, "loan_amount"].removeprefix("USD ").replace(",", ""))
    assert _row(storage, negative)["net_cash_flow"] == -float(RAW.loc[negative, "net_cash_flow"].strip("()")
                                                              .replace(",", ""))
    opened = _row(storage, sixties)["earliest_credit_line"]
    assert 1960 <= opened.year <= 1969 and opened.strftime("%-d-%b-%y") == RAW.loc[sixties, "earliest_credit_line"]
    assert not quarantine["reason"].str.contains("funded_amount").any()

    assert main(["train", "--dataset", "loans", "--as-of", AS_OF]) == 0
    assert "riskops-loans version 1 registered" in capsys.readouterr().out
    summary = storage.read_json(layout.candidate("loans", "1", "candidate.json"))
    curated_ids = {i for d in DAYS for i in storage.read_parquet(layout.curated("loans", d))["loan_id"]}
    statuses = RAW.loc[sorted(curated_ids), "loan_status"]
    unknown = int((~statuses.isin(["Charged Off", "Default", "Fully Paid"])).sum())
    assert unknown == 137  # 'Current', 'Late (31-120 days)' and blanks (as the README says): never good loans
    accounting = summary["data_accounting"]
    assert accounting["unknown_outcomes"] == unknown
    assert accounting["positive_outcomes"] == int(statuses.isin(["Charged Off", "Default"]).sum())
    assert accounting["negative_outcomes"] == int((statuses == "Fully Paid").sum())
    client = MlflowClient()
    model = registry.load_model(client, "riskops-loans", "1")
    assert "credit_history_days" in model.pipeline.order  # the date feature the spec derives
    assert not {"earliest_credit_line", "application_date", "funded_amount"} & set(model.pipeline.order)
    assert model.bands["by"] == "pd" and model.bands["names"] == ["A", "B", "C", "D", "E"]

    assert main(["promote", "--dataset", "loans", "--version", "1", "--approver", "Ada Lovelace"]) == 0
    assert main(["score", "--dataset", "loans", "--start", START, "--end", END]) == 0
    scored = []
    for day, m in zip(DAYS, manifests, strict=True):
        score_manifest = storage.read_json(layout.score_manifest("loans", day, "1"))
        assert score_manifest["rows_scored"] == m["rows_clean"]
        scored.append(storage.read_parquet(score_manifest["scores"]))
    scores = pd.concat(scored)
    assert len(scores) == len(curated_ids)
    assert set(scores["band"]) == {"A", "B", "C", "D", "E"}  # bands from the development sample: all used
    assert not (data_root / "scores" / "_staging").exists()


def test_the_example_spec_is_listed_with_its_calendar(monkeypatch, capsys):
    monkeypatch.setenv("RISKOPS_SPECS", str(FIXTURE))
    assert main(["datasets"]) == 0
    assert capsys.readouterr().out.startswith("loans\t12 columns\tlabel=loan_status\tmaturity_lag_days=30\t"
                                              "calendar=weekdays\t")


def test_replay_is_confined_to_its_window_and_calendar(tmp_path):
    from ml.data.replay import replay

    storage = Storage(str(tmp_path))
    summary = replay(storage, SPEC, dt.date(2026, 9, 4), dt.date(2026, 9, 8))
    assert [s["date"] for s in summary] == ["2026-09-04", "2026-09-08"]
    # Saturday to Monday (a holiday) arrive on Tuesday the 8th
    expected = RAW["application_date"].isin([f"{d.day}-Sep-26" for d in date_range(dt.date(2026, 9, 5),
                                                                                    dt.date(2026, 9, 8))])
    assert summary[1]["rows"] == int(expected.sum())
    control = json.loads(storage.read_bytes(f"{layout.landing('loans', dt.date(2026, 9, 8))}/_CONTROL.json"))
    assert control["files"]["batch.csv"]["rows"] == summary[1]["rows"]
