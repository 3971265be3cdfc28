"""The layout checker (tests/pdf_layout.py) on PDFs made here: it finds two words drawn over each other, two cells
run together, a word outside the page frame; it passes words a space apart, lines set solid and a house table."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from reports.document import SANS, STYLES, Header, Metadata, render
from reports.tables import table
from tests.pdf_layout import FRAME, MIN_GAP, TOLERANCE, Word, check, collisions

PAGE_W, PAGE_H = A4


def _pdf(*strings: tuple[float, float, str]) -> bytes:
    """One A4 page with each ``(x, y from the top, text)`` drawn in 7.5 pt."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1)
    canvas.setFont(SANS, 7.5)
    for x, y, text in strings:
        canvas.drawString(x, PAGE_H - y, text)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _width(text: str) -> float:
    return stringWidth(text, SANS, 7.5)


def _texts(findings: list) -> list[tuple[int, str, tuple[str, ...]]]:
    return [(f.page, f.what, tuple(w.text for w in f.words)) for f in findings]


def test_a_number_drawn_over_its_neighbour_is_found() -> None:
    """What page 5 of Give Me Some Credit's first candidate had: the Mean PD under the start of the AUC."""
    x = 200.0
    findings = check(_pdf((x, 300, "8.05%"), (x + _width("8.05%") - 12, 300, "0.8552 [0.8466, 0.8638]")))
    assert _texts(findings) == [(1, "overlap", ("8.05%", "0.8552"))]
    first, second = findings[0].words
    assert first.x1 - second.x0 > 11.9 and str(findings[0]).startswith("page 1: overlap: '8.05%' (200.0, ")


def test_cells_run_together_are_found_and_words_a_space_apart_are_not() -> None:
    x = 200.0
    touching = _pdf((x, 300, "8.05%"), (x + _width("8.05%") + MIN_GAP / 2, 300, "0.8552"))
    assert _texts(check(touching)) == [(1, "overlap", ("8.05%", "0.8552"))]
    spaced = _pdf((x, 300, "8.05% 0.8552 [0.8466, 0.8638]"), (x, 300 + 7.5, "the next line, set solid"))
    assert check(spaced) == []


def test_words_outside_the_frame_are_found() -> None:
    inside = FRAME[0] + 1
    findings = check(_pdf((inside, 100, "inside"), (PAGE_W - FRAME[0] - _width("beyond") + 3, 200, "beyond"),
                          (inside, FRAME[1] - 4, "above"), (inside, PAGE_H - 2, "below")))
    assert _texts(findings) == [(1, "outside the frame", ("beyond",)), (1, "outside the frame", ("above",)),
                                (1, "outside the frame", ("below",))]
    # the tolerance: a word ending a fraction of a point past the frame's edge is rounding, not an overflow
    assert check(_pdf((PAGE_W - FRAME[0] - _width("edge") + TOLERANCE / 2, 200, "edge"))) == []


def test_the_tolerance_passes_boxes_that_share_a_hair() -> None:
    a = Word("upper", 100, 100, 140, 108)
    assert collisions([a, Word("lower", 100, 108 - TOLERANCE / 2, 140, 116)]) == []  # lines set solid, rounded
    assert collisions([a, Word("lower", 100, 108 - 2 * TOLERANCE, 140, 116)]) == [
        (a, Word("lower", 100, 108 - 2 * TOLERANCE, 140, 116))]


def test_a_house_table_of_long_cells_and_a_paragraph_set_solid_pass() -> None:
    solid = Paragraph("A paragraph set solid: leading equal to its size, so its lines' boxes touch. " * 6,
                      STYLES["small"].clone("solid", leading=8))
    rows = [["Group", "Approval rate", "AIR [95% CI]", "Default rate", "Mean PD", "AUC [95% CI]"]]
    rows += [[f"a group with a long name {i}", "71.08%", "0.85 [0.79, 0.92]", "8.39%", "8.05%",
              "0.8552 [0.8466, 0.8638]"] for i in range(5)]
    pdf = render([solid, table(rows, extra=[("FONT", (0, 1), (-1, -1), SANS, 9)])], Metadata("t", "t"),
                 Header("Layout", "checker", footer="footer"))
    assert check(pdf) == []


def test_findings_name_their_page() -> None:
    clean, faulty = _pdf((100, 100, "fine")), _pdf((100, 100, "drawn"), (102, 100, "twice"))
    pages = io.BytesIO()
    writer = PdfWriter()
    for pdf in (clean, faulty):
        writer.append(io.BytesIO(pdf))
    writer.write(pages)
    assert _texts(check(pages.getvalue())) == [(2, "overlap", ("drawn", "twice"))]
