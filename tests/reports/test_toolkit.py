"""The report toolkit: document.render and its header, footer and bookmarks; the shared blocks."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from reportlab.platypus import Flowable, PageBreak, Paragraph

from reports import blocks, charts
from reports.document import HEADER_BG, LIGHTS, STYLES, Header, Metadata, fmt_threshold, heading, render
from tests.reports.test_candidate import light_rows

META = Metadata(title="Weekly stability report: consumer_loans", subject="Stability", keywords=("psi",))
HEADER = Header(title="Weekly stability report", identity="consumer_loans_pd",
                identity_suffix=" \u00b7 week 2026-W14", footer="Generated 2026-04-06T06:00:00+00:00")


def _pdf(story: list[Flowable], header: Header = HEADER) -> PdfReader:
    return PdfReader(io.BytesIO(render(story, META, header)))


def _text(story: list[Flowable]) -> str:
    return "\n".join(page.extract_text() for page in _pdf(story).pages)


def test_render_is_deterministic_and_uses_the_metadata_given() -> None:
    def story() -> list[Flowable]:
        return [heading("1. Intro"), Paragraph("Hello", STYLES["body"])]

    pdf = render(story(), META, HEADER)
    assert pdf.startswith(b"%PDF-") and render(story(), META, HEADER) == pdf
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None and info.title == META.title and info.subject == "Stability"


def test_headings_are_outline_entries_pointing_at_their_pages() -> None:
    reader = _pdf([heading("1. First"), PageBreak(), heading("2. Second & last"), heading("2.1 Detail", level=1)])
    first, second, children = reader.outline
    assert isinstance(children, list)
    assert [(o.title, reader.get_destination_page_number(o)) for o in (first, second, *children)] == [
        ("1. First", 0), ("2. Second & last", 1), ("2.1 Detail", 1)]


def test_header_and_footer_show_the_text_given_on_every_page() -> None:
    reader = _pdf([Paragraph("one", STYLES["body"]), PageBreak(), Paragraph("two", STYLES["body"])])
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        for expected in ("Weekly stability report", "consumer_loans_pd \u00b7 week 2026-W14",
                         "Generated 2026-04-06T06:00:00+00:00", f"Page {number} of 2"):
            assert expected in text, expected


def test_a_long_identity_is_cut_but_keeps_its_suffix() -> None:
    reader = _pdf([Paragraph("x", STYLES["body"])], Header(title="Report", identity="m" * 300, identity_suffix=" \u00b7 v2"))
    assert "m\u2026 \u00b7 v2" in reader.pages[0].extract_text()


@pytest.mark.parametrize("n", [3, 14])  # 14 rows are set in two column groups
def test_psi_table_shows_the_given_light_per_row_and_the_given_thresholds(n: int) -> None:
    lights = ("red", "green", "amber")  # deliberately not what the values would grade to
    rows = [(f"feature_{i}", i / 100, lights[i % 3]) for i in range(n)]
    text = _text(blocks.psi_table(rows, eps=0.002, amber=0.125, red=0.3, summary=("Score PSI", 0.05, "amber")))
    found = light_rows(text)
    assert found["Score PSI"] == ("0.0500", "amber")
    for name, value, light in rows:
        assert found[name] == (f"{value:.4f}", light), name
    flat = text.replace("\n", " ")
    for expected in ("\u03b5 = 0.002 ", "below 0.125 green", "0.125 to 0.30 amber", "0.30 or more red"):
        assert expected in flat, expected


def test_traffic_light_cell_is_coloured_as_given() -> None:
    assert blocks.traffic_light("Amber", 2, 5) == ("amber", ("BACKGROUND", (2, 5), (2, 5), LIGHTS["amber"]))
    assert blocks.traffic_light("purple", 0, 1)[1][-1] == HEADER_BG  # unknown: neutral, shown as given
    assert blocks.traffic_light("purple", 0, 1)[0] == "purple"


def test_metrics_side_by_side() -> None:
    rows = [blocks.MetricRow("AUC", "auc", "higher"), blocks.MetricRow("Brier score", "brier", "lower"),
            blocks.MetricRow("Accounts", "n", fmt=lambda v: f"{v:,.0f}", difference=False)]
    dev, week = {"auc": 0.80, "brier": 0.05, "n": 1000}, {"auc": 0.78, "brier": 0.06, "n": 250}
    text = _text([blocks.metrics_table([("Development", dev), ("Week 14", week)], rows, difference=True)])
    assert "Development\nWeek 14\nDifference" in text
    assert "\u22120.0200" in text and "+0.0100" in text and "1,000\n250\n\u2014" in text
    three = _text([blocks.metrics_table([("A", dev), ("B", week), ("C", dev)], rows)])
    assert "A\nB\nC" in three and "Difference" not in three
    with pytest.raises(ValueError, match="two columns"):
        blocks.metrics_table([("A", dev)], rows, difference=True)


def test_calibration_table_takes_extra_columns() -> None:
    rows = [{"band": 1.0, "n": 500.0, "mean_p": 0.02, "observed_rate": 0.025, "p_value": 0.0421}]
    text = _text([blocks.calibration_table(rows, extra=[blocks.Column("p-value", "p_value")])])
    assert "Band\nAccounts\nMean PD\nObserved\np-value" in text
    assert "1\n500\n2.00%\n2.50%\n0.0421" in text


def test_trend_chart_with_threshold_lines() -> None:
    weeks = [f"2026-W{w:02d}" for w in range(1, 21)]
    chart = blocks.trend_chart(weeks, [("Score PSI", [0.01 * (w % 7) for w in range(20)])], "Score PSI by week",
                               "PSI", amber=0.10, red=0.25)
    pdf = _pdf([chart])
    assert len(pdf.pages) == 1 and "/XObject" in pdf.pages[0]["/Resources"]
    with pytest.raises(ValueError, match="one value per x label"):
        charts.line_chart(weeks, [("PSI", [0.1])], "t", "PSI")


def test_thresholds_are_shown_as_written() -> None:
    assert [fmt_threshold(v) for v in (0.1, 0.25, 0.125, 1.0)] == ["0.10", "0.25", "0.125", "1.00"]
