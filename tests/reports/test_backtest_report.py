"""The weekly backtest PDF: deterministic, the sections and numbers it is given, every empty case."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from ml.monitor import backtest
from ml.monitor.weekly_backtest import report_data
from ml.spec import get_spec
from ml.storage import Storage
from reports.backtest import BacktestReportData, render_backtest_report
from tests.helpers import write_scored_day
from tests.pdf_layout import assert_clean

REPO = Path(__file__).resolve().parents[2]
SPEC = get_spec(REPO / "datasets", "give_me_some_credit")
FIRST = dt.date(2026, 7, 6)
NOW = dt.datetime(2026, 9, 21, 6, 0, tzinfo=dt.timezone.utc)
CHALLENGER = {
    "version": "4", "rows": 42000, "approval_rate": 0.78,
    "production": {"auc": 0.8011, "ks": 0.452, "default_rate_at_approval_rate": 0.043},
    "challenger": {"auc": 0.8123, "ks": 0.471, "default_rate_at_approval_rate": 0.039},
    "swap": {**{k: {"n": 1000, "bads": 50, "bad_rate": 0.05} for k in
                ("approve->approve", "approve->decline", "decline->approve", "decline->decline")},
             "swap_in": {"n": 1234, "bads": 37, "bad_rate": 0.03}, "swap_out": {"n": 987, "bads": 99, "bad_rate": 0.1}},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> BacktestReportData:
    """Two scored weeks by version 3, the first matured (and drifting: outcomes at twice the PD)."""
    storage = Storage(str(tmp_path_factory.mktemp("backtest")))
    rng = np.random.default_rng(0)
    for i in range(14):
        p = 1 / (1 + np.exp(-rng.normal(-2.6, 1.2, 3000)))
        y = (rng.uniform(size=len(p)) < np.minimum(2 * p, 1)).astype(int)
        age = rng.integers(18, 90, len(p))
        write_scored_day(storage, SPEC, FIRST + dt.timedelta(days=i), "3", p, y, first_id=1 + i * 3000,
                         curated={"age": age})
    plan = backtest.plan(storage, SPEC, FIRST + dt.timedelta(days=6 + 60), 12)
    facts = {"3": backtest.ModelFacts("3", 0.2, 2.0, 0.86, {"A": 50, "B": 300, "C": 400, "D": 200, "E": 50})}
    result = backtest.run(storage, SPEC, plan, facts)
    return dataclasses.replace(report_data(result, SPEC, "riskops-give_me_some_credit", NOW), challenger=CHALLENGER)


def _text(pdf: bytes) -> str:
    """The PDF's text with every run of whitespace as one space (lines wrap anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def test_deterministic_bytes(data: BacktestReportData) -> None:
    pdf = render_backtest_report(data)
    assert pdf.startswith(b"%PDF") and render_backtest_report(data) == pdf


def test_sections_alerts_and_numbers(data: BacktestReportData) -> None:
    pdf = render_backtest_report(data)
    reader = PdfReader(io.BytesIO(pdf))
    assert [o.title for o in reader.outline if not isinstance(o, list)] == [
        "1. Summary", "2. Weeks", "3. Calibration by score band", "4. Label-free estimate",
        "5. Score percentiles by day", "6. Shadow challenger", "7. Fair lending", "8. Reviewers' decisions"]
    text = _text(pdf)
    version = data.versions[0]
    assert data.alerts and all(a in text for a in data.alerts)
    assert "significantly below 0.8600" in " ".join(data.alerts)
    assert f"{version['performance']['auc']:.4f}" in text
    assert "Jeffreys" in text and "rejected" in text and "Hosmer" in text
    assert "2026-W28" in text and "2026-W29" in text  # the matured week and the estimated one
    assert "Swap-in (production declined, challenger approves): 1,234 accounts, default rate 3.00%" in text
    assert "Challenger v4" in text
    # fair lending over the window: the groups of age, against 25 to 61, with default and approved-book bad rates
    groups = {g["group"]: g for g in version["fairness"][0]}
    assert "Version 3: age (monitored), against 25 to 61" in text and "Approved bad rate" in text
    assert f"{groups['62 and over']['default_rate'] * 100:.2f}%" in text
    assert f"{groups['under 25']['approved_bad_rate'] * 100:.2f}%" in text


def test_without_challenger_alerts_or_matured_rows(data: BacktestReportData) -> None:
    quiet = dataclasses.replace(data, challenger=None, alerts=[])
    text = _text(render_backtest_report(quiet))
    assert "No alerts" in text and "No candidate waits in Staging" in text
    nothing = dataclasses.replace(data, versions=[], weeks=[w for w in data.weeks if w["performance"] is None],
                                  challenger=None, alerts=[], notes=["No matured rows as of 2026-09-10."])
    text = _text(render_backtest_report(nothing))
    assert "No matured rows in the judged weeks: nothing to judge yet." in text
    assert "No matured rows as of 2026-09-10." in text
    empty = dataclasses.replace(nothing, weeks=[], percentiles=[])
    assert "No scored rows in the window." in _text(render_backtest_report(empty))


def test_the_first_page_shows_the_champion_line(data: BacktestReportData) -> None:
    line = ("2026-07-01T09:00:00+00:00 rolled back v3 by Ada, Grace (report 0123456789ab, previous champion v4): "
            "v4 declines good payers")
    first = " ".join(PdfReader(io.BytesIO(render_backtest_report(
        dataclasses.replace(data, champion_line=line)))).pages[0].extract_text().split())
    assert f"Champion now {line}" in first
    assert "Champion now none promoted yet" in _text(render_backtest_report(data))


OVERRIDES = {
    "bands": [{"band": "B", "sent": 400, "decided": 300, "decided_share": 0.75, "overridden": 45, "override_rate": 0.15,
               "reviewer_approved": 255, "matured_reviewer_approved": 200, "reviewer_approved_default_rate": 0.0712,
               "matured_model_approved": 9000, "model_approved_default_rate": 0.0231}],
    "overall": {"band": "all", "sent": 400, "decided": 300, "decided_share": 0.75, "overridden": 45,
                "override_rate": 0.15, "reviewer_approved": 255, "matured_reviewer_approved": 200,
                "reviewer_approved_default_rate": 0.0712, "matured_model_approved": 9000,
                "model_approved_default_rate": 0.0231},
    "expected_min": 0.2, "expected_max": 0.5, "min_decided": 30,
    "alerts": ["reviewers overrode the model on 15.0% of 300 decided reviews, outside the expected 20% to 50%"]}


def test_the_reviewers_section(data: BacktestReportData) -> None:
    text = _text(render_backtest_report(dataclasses.replace(data, overrides=OVERRIDES)))
    section = text[text.index("8. Reviewers' decisions"):]
    assert "the model's suggestion" in section.lower() or "suggestion" in section
    assert "B 400 300 75.00% 45 15.00% 200 7.12% 9,000 2.31%" in section
    assert "all 400 300 75.00% 45 15.00%" in section
    assert "Override rate: reviewers overrode the model on 15.0% of 300 decided reviews, outside the expected " \
           "20% to 50%" in section
    none_sent = {**OVERRIDES, "bands": [], "overall": {**OVERRIDES["overall"], "sent": 0}, "alerts": []}
    assert "The policy sent no row of the weeks read to review." in _text(
        render_backtest_report(dataclasses.replace(data, overrides=none_sent)))
    assert "The reviewers' decisions were not read for this report." in _text(render_backtest_report(data))


def test_no_word_overlaps_another_or_leaves_the_page(data: BacktestReportData) -> None:
    """Every page passes the layout checker: the challenger's, the fair-lending and the reviewers' pages included."""
    assert_clean(render_backtest_report(dataclasses.replace(data, overrides=OVERRIDES)), "backtest")
