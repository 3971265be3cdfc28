"""The weekly stability report: its pages, numbers and lights as given, deterministic bytes; and the
blocks it added to the toolkit."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader

from reports import blocks, charts
from reports.stability import (
    DayRow,
    DecisionDay,
    Distribution,
    FairAttribute,
    FeatureRow,
    QualityDay,
    ReasonDay,
    StabilityReportData,
    render_stability_report,
)
from tests.pdf_layout import assert_clean

WEEKS = ["2026-W33", "2026-W34", "2026-W35", "2026-W36", "2026-W37", "2026-W38"]


def make_data(**changes: object) -> StabilityReportData:
    days = [DayRow(f"2026-09-{14 + i:02d}", "3", 1_500 + i, 0.02 + 0.04 * i, "green" if i < 3 else "amber",
                   ["device_os"] if i > 4 else [], ["amount"] if i > 3 else [], "red" if i > 4 else "green",
                   0.0145 - 0.0001 * i)  # the critical value at the day's rows
            for i in range(7)]
    features = [
        FeatureRow("device_os", 0.2889, "red", None, None, None, 0.2266, "red", "red", {"tizen": 12},
                   ks_note="categorical: no KS", csi_critical=0.0021),
        FeatureRow("amount", 0.1370, "amber", 0.1520, "amber", 2.7e-88, 0.1562, "amber", "amber", {},
                   csi_critical=0.0021),
        FeatureRow("hour", 0.0012, "green", 0.0078, "green", 0.95, 0.0150, "green", "green", {}, csi_critical=0.0021),
    ]
    data = StabilityReportData(
        dataset="card_transactions", week="2026-W38", start="2026-09-14", end="2026-09-20", model_versions=["3"],
        generated_at="2026-09-21T02:10:00+00:00",
        thresholds={"psi": (0.10, 0.25), "ks": (0.10, 0.20), "js": (0.10, 0.20)}, eps=1e-4, min_rows=500,
        week_rows=10_521, week_light="red", week_score_psi=0.1450, week_score_light="amber", days=days,
        week_score_critical=0.0021,
        weeks=[(w, 0.01 * (i + 1), "green") for i, w in enumerate(WEEKS[:-1])] + [(WEEKS[-1], 0.1450, "amber")],
        heat=[(f.name, [(0.001 * i, "green") for i in range(5)] + [(f.csi, f.csi_light)]) for f in features],
        features=features,
        distributions=[Distribution("device_os", 0.2889, ["android", "ios", "other", "missing"],
                                    [0.35, 0.35, 0.3, 0.0], [0.6, 0.25, 0.15, 0.0])],
        decisions=[DecisionDay(d.date, d.rows, {"approve": d.rows - 300, "review": 150, "decline": 150},
                               {"HR01-YOUNG": 7}) for d in days],
        quality=[QualityDay(d.date, d.rows + 6, d.rows, 0.004, [("hour", 3), ("amount", 2)], [("customer_age", 0.02)])
                 for d in days],
        fairness=[FairAttribute(
            "customer_age", "monitored", "25 to 61",
            [{"group": "25 to 61", "reference": True, "rows": 9_000, "approval_rate": 0.8, "ratio": 1.0,
              "light": None},
             {"group": "under 25", "reference": False, "rows": 1_200, "approval_rate": 0.6, "ratio": 0.75,
              "ratio_low": 0.71, "ratio_high": 0.79, "light": "red"}],
            [d.date for d in days], [("under 25", [0.9, 0.85, 0.8, 0.78, 0.76, 0.74, None])],
            WEEKS, [("under 25", [(0.91, "green")] * 5 + [(0.75, "red")])])],
        reasons=[ReasonDay(d.date, 300, {"C01": 200, "C04": 100}, 0.01 * i, "green") for i, d in enumerate(days)],
        reason_week=ReasonDay("2026-W38", 2100, {"C01": 1400, "C04": 700}, 0.0321, "green"),
        reason_reference={"C01": 0.7, "C04": 0.3}, reason_texts={"C01": "Transaction amount"},
    )
    return dataclasses.replace(data, **changes)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_stability_report(make_data())


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_pages_sections_and_numbers(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 5
    assert [o.title for o in reader.outline if not isinstance(o, list)] == [
        "1. The week", "2. Trends by week", "3. Features this week", "4. Decisions and data quality",
        "5. Fair lending and reasons"]
    text = _text(pdf)
    for expected in ("card_transactions · 2026-W38 · 2026-09-14 to 2026-09-20", "Score PSI 0.1450 amber",
                     "Overall light of the week: red", "0.2889", "0.1520 (p 2.7e-88)", "categorical: no KS",
                     "tizen (12)", "HR01-YOUNG", "customer_age 2.00%", "hour (3), amount (2)", "2026-W33",
                     "ε = 0.0001", "fewer than 500 rows: not judged",
                     # fair lending: the week's groups, the ratios by ISO week; the reason mix and its shift
                     "customer_age (monitored), against 25 to 61", "60.00%", "0.75 [0.71, 0.79]", "0.91",
                     "C01: Transaction amount", "66.67%", "70.00%", "0.0321", "Rows given reasons"):
        assert expected in text, expected


def test_same_data_same_bytes_and_data_shows(pdf: bytes) -> None:
    assert render_stability_report(make_data()) == pdf
    assert render_stability_report(make_data(week_score_psi=0.3)) != pdf


def test_a_week_without_judged_days_or_manifests_still_renders() -> None:
    empty = make_data(days=[], weeks=[("2026-W38", None, None)], heat=[], features=[], distributions=[],
                      decisions=[], quality=[], week_score_psi=None, week_rows=0, week_light="too few rows")
    text = _text(render_stability_report(empty))
    assert "No scoring manifests for this week." in text and "No preprocessing manifests for this week." in text


def test_heat_cells_must_match_the_weeks() -> None:
    with pytest.raises(ValueError, match="one cell per week"):
        render_stability_report(make_data(heat=[("amount", [(0.1, "amber")])]))


def test_light_grid_colours_cells_and_checks_their_number() -> None:
    grid = blocks.light_grid(["Feature", "W1", "W2"], [("amount", [("0.1000", "amber"), ("0.3000", "red")])])
    backgrounds = [c for c in grid._bkgrndcmds if c[0] == "BACKGROUND"]  # noqa: SLF001 (reportlab keeps them so)
    assert ((1, 1), (1, 1)) in [(c[1], c[2]) for c in backgrounds] and ((2, 1), (2, 1)) in [(c[1], c[2])
                                                                                              for c in backgrounds]
    with pytest.raises(ValueError, match="needs 2 cells"):
        blocks.light_grid(["Feature", "W1", "W2"], [("amount", [("0.1", "amber")])])


def test_distribution_chart_is_a_stable_png() -> None:
    panels = [("amount: CSI 0.1370", ["<= 10", "> 10", "missing"], [0.5, 0.5, 0.0], [0.3, 0.7, 0.0])]
    png = charts.distribution_chart(panels, "2026-W38")
    assert png.startswith(b"\x89PNG") and charts.distribution_chart(panels, "2026-W38") == png
    with pytest.raises(ValueError, match="one share per label"):
        charts.distribution_chart([("x", ["a"], [0.5, 0.5], [1.0])], "t")


GMSC_RULES = {"HR01-BUREAU-NOT-REPORTED": 61, "HR02-SERIOUS-DELINQUENCY": 87, "HR03-YOUNG-APPLICANT": 4}


def test_no_word_overlaps_another_or_leaves_the_page(pdf: bytes) -> None:
    """Every page passes the layout checker, also with Give Me Some Credit's long rule codes as columns (they ran
    into each other on page 4) and long reason statements."""
    assert_clean(pdf, "weekly stability")
    data = make_data()
    gmsc = make_data(
        decisions=[dataclasses.replace(d, rules=GMSC_RULES) for d in data.decisions],
        reasons=[dataclasses.replace(r, first={"R01": 120, "R02": 90, "R07": 60, "R08": 30}) for r in data.reasons],
        reason_week=ReasonDay("2026-W38", 2100, {"R01": 840, "R02": 630, "R07": 420, "R08": 210}, 0.0321, "green"),
        reason_reference={"R01": 0.4771, "R02": 0.2779, "R07": 0.1926, "R08": 0.008},
        reason_texts={"R01": "Proportion of revolving credit in use is too high",
                      "R02": "Number of times 30 to 89 days past due",
                      "R07": "Number of times 90 days or more past due",
                      "R08": "Delinquency history not reported by the credit bureau"})
    pdf = render_stability_report(gmsc)
    assert_clean(pdf, "weekly stability with GMSC's rules")
    assert all(_text(pdf).count(f"Rule {code}") == 1 for code in GMSC_RULES)  # one table, not column groups
