"""The table builder (reports/tables.py): columns sized from their content, long cells wrapped at spaces, numbers
whole, a font step smaller or column groups when a table cannot fit; every case through the layout checker."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from pypdf import PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table

from reports.document import BOLD, CONTENT_W, SANS, Header, Metadata, render
from reports.tables import MIN_FONT, table
from tests.pdf_layout import assert_clean

INTERVAL = "0.8552 [0.8466, 0.8638]"


def _render(*flowables: Flowable) -> bytes:
    return render(list(flowables), Metadata("tables", "tables"), Header("Tables", "builder"))


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def _sizes(pdf: bytes) -> set[float]:
    """The font sizes of the table's characters (the page's header and footer left out)."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return {round(c["size"], 2) for p in doc.pages for c in p.chars if 30 * mm < c["top"] < p.height - 25 * mm}


def test_columns_are_as_wide_as_their_content() -> None:
    t = table([["Group", "AUC [95% CI]"], ["under 25", INTERVAL]])
    assert isinstance(t, Table)
    header = stringWidth("AUC [95% CI]", BOLD, 8.5)
    assert t._colWidths[1] == pytest.approx(max(header, stringWidth(INTERVAL, SANS, 8.5)) + 10 + 0.1)
    assert t._colWidths[0] == pytest.approx(stringWidth("under 25", SANS, 8.5) + 10 + 0.1)


def test_a_designed_width_too_narrow_for_a_number_widens_and_the_others_give_way() -> None:
    """The fault of the candidate's fair-lending page: the AUC interval in a column a third too narrow."""
    designed = [20 * mm, 20 * mm, (CONTENT_W - 40 * mm)]
    t = table([["Mean PD", "AUC [95% CI]", "Statement"], ["8.05%", INTERVAL, "short"]], designed)
    assert isinstance(t, Table)
    assert t._colWidths[1] > 20 * mm and sum(t._colWidths) == pytest.approx(CONTENT_W)
    pdf = _render(t)
    assert_clean(pdf)
    assert f"8.05% {INTERVAL} short" in _text(pdf)


def test_long_text_wraps_at_spaces_in_the_cells_style_and_numbers_stay_whole() -> None:
    statement = "Total balance of revolving accounts, instalment loans and mortgages outstanding is too high " * 3
    rows = [["Code", "Statement", "First reason", "Among the reasons"],
            ["R10", statement, "12.34% (1,234)", "56.78% (5,678)"]]
    t = table(rows, [28 * mm, CONTENT_W - 88 * mm, 30 * mm, 30 * mm], extra=[("FONT", (0, 1), (-1, -1), SANS, 7.5)])
    assert isinstance(t, Table)
    cell = t._cellvalues[1][1]
    assert isinstance(cell, Paragraph) and cell.style.fontName == SANS and cell.style.fontSize == 7.5
    assert t._cellvalues[1][2] == "12.34% (1,234)"  # fits: stays text
    pdf = _render(t)
    assert_clean(pdf)
    assert "R10 Total balance" in _text(pdf) and "12.34% (1,234) 56.78% (5,678)" in _text(pdf)


def test_markup_characters_in_text_cells_show_literally_when_wrapped() -> None:
    text = "a <b>not bold</b> & literal " * 12
    pdf = _render(table([["Note"], [text]], [40 * mm]))
    assert "a <b>not bold</b> & literal" in _text(pdf)


def test_a_table_too_wide_for_its_font_is_set_a_step_smaller() -> None:
    number = "0.12345678901234"  # a word: it cannot wrap
    assert 6 * (stringWidth(number, SANS, 8.5) + 10) > CONTENT_W
    pdf = _render(table([[f"Model {i}" for i in range(6)], [number] * 6]))
    assert_clean(pdf)
    sizes = _sizes(pdf)
    assert max(sizes) < 8.5 and min(sizes) >= MIN_FONT
    assert _text(pdf).count(number) == 6


def test_a_table_that_cannot_fit_at_the_smallest_font_is_split_into_column_groups() -> None:
    rows = [["Week", *(f"2026-W{w:02d}" for w in range(1, 25))], ["amount", *(f"{w * 1_234_567:,}" for w in range(1, 25))]]
    t = table(rows)
    assert isinstance(t, KeepTogether)
    pdf = _render(t)
    assert_clean(pdf)
    text = _text(pdf)
    assert text.count("Week") >= 2 and text.count("amount") >= 2  # each group led by the first column
    for w in range(1, 25):
        assert f"2026-W{w:02d}" in text and f"{w * 1_234_567:,}" in text
    assert _sizes(pdf) == {MIN_FONT}  # every group in the same font


def test_a_hash_wider_than_a_third_of_the_frame_breaks_and_nothing_else_does() -> None:
    digest = "c9a46fbc54e303390b74dc7352d62dc360244a5d8b43411f9908629572eaeeb8"
    rows = [["Business day", "Rows in", "Clean", "Quarantined", "Input SHA-256"],
            ["2026-07-01", "150,000", "149,999", "1", digest]]
    pdf = _render(table(rows, [0.14 * CONTENT_W, 0.1 * CONTENT_W, 0.1 * CONTENT_W, 0.12 * CONTENT_W, 0.54 * CONTENT_W]))
    assert_clean(pdf)
    text = _text(pdf)
    assert "2026-07-01 150,000 149,999 1" in text and digest not in text  # split across lines
    assert digest in text.replace(" ", "")


def test_same_rows_same_bytes() -> None:
    rows = [["Group", "Statement"], ["under 25", "Number of times 90 days or more past due " * 5]]
    assert _render(table(rows, [20 * mm, 40 * mm])) == _render(table(rows, [20 * mm, 40 * mm]))
