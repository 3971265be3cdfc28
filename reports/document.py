"""The house style and machinery of every riskops PDF report.

A report is a list of flowables built with this module and :mod:`reports.blocks`, handed to
:func:`render` with its :class:`Metadata` and :class:`Header`. Output is deterministic: the same story
gives the same PDF bytes (reportlab invariant mode, no clock read, metadata passed in, fonts embedded
from matplotlib's bundled DejaVu files, byte-stable PNG charts from :mod:`reports.charts`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from reports import palette
from reports.palette import LIGHT_BACKGROUNDS

# -------------------------------------------------------------------------------------------- fonts

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_FONTS = {
    "RiskSans": "DejaVuSans.ttf",
    "RiskSans-Bold": "DejaVuSans-Bold.ttf",
    "RiskSans-Oblique": "DejaVuSans-Oblique.ttf",
    "RiskSans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    "RiskMono": "DejaVuSansMono.ttf",
}


def _register_fonts() -> None:
    """DejaVu (the charts' font too), embedded as subsets: covers −, β, ε, Σ, ≥ which Helvetica lacks."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in _FONTS.items():
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(_FONT_DIR / filename)))
    pdfmetrics.registerFontFamily("RiskSans", normal="RiskSans", bold="RiskSans-Bold",
                                  italic="RiskSans-Oblique", boldItalic="RiskSans-BoldOblique")


_register_fonts()

SANS, BOLD, ITALIC, MONO = "RiskSans", "RiskSans-Bold", "RiskSans-Oblique", "RiskMono"

# ------------------------------------------------------------------------------------------ palette

NAVY = colors.HexColor(palette.NAVY)
INK = colors.HexColor("#222222")
MUTED = colors.HexColor("#5F6B7A")
RULE = colors.HexColor("#C9D1DB")
HEADER_BG = colors.HexColor("#E7ECF2")
ZEBRA = colors.HexColor("#F6F8FA")
BETTER = colors.HexColor("#1B7F3B")
WORSE = colors.HexColor("#B3261E")
LIGHTS = {light: colors.HexColor(background) for light, background in LIGHT_BACKGROUNDS.items()}

# ------------------------------------------------------------------------------------------- layout

PAGE_W, PAGE_H = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 22 * mm
MARGIN_BOTTOM = 18 * mm
FRAME_PAD = 4
CONTENT_W = PAGE_W - 2 * MARGIN_X - 2 * FRAME_PAD


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": SANS, "fontSize": 9, "leading": 12, "textColor": INK}
    base.update(kw)
    return ParagraphStyle(name, **base)


STYLES = {
    "title": _style("title", fontName=BOLD, fontSize=20, leading=24, textColor=NAVY, spaceAfter=2),
    "subtitle": _style("subtitle", fontSize=11, leading=14, textColor=MUTED, spaceAfter=2),
    "h1": _style("h1", fontName=BOLD, fontSize=13, leading=16, textColor=NAVY, spaceBefore=2, spaceAfter=6),
    "h2": _style("h2", fontName=BOLD, fontSize=10.5, leading=13, textColor=NAVY, spaceBefore=8, spaceAfter=4),
    "body": _style("body", spaceAfter=4),
    "small": _style("small", fontSize=8, leading=10.5, textColor=MUTED, spaceAfter=3),
    "cell": _style("cell", fontSize=8.5, leading=10.5),
    "cell_small": _style("cell_small", fontSize=8, leading=10),
    "cell_mono": _style("cell_mono", fontName=MONO, fontSize=8, leading=10.5),
    "verdict": _style("verdict", fontName=BOLD, fontSize=13, leading=17),
    "list": _style("list", leftIndent=16, bulletIndent=2, spaceAfter=3),
}


# ------------------------------------------------------------------------------------------ numbers

MINUS = "\u2212"
DASH = "\u2014"


def fmt4(value: float) -> str:
    """A metric (AUC, Gini, KS, Brier, log loss, precision, recall, F-beta, threshold, PSI): 4 decimals."""
    return f"{value:.4f}"


def fmt_pct(value: float) -> str:
    """A rate given as a fraction, shown as a percentage with 2 decimals."""
    return f"{value * 100:.2f}%"


def fmt_int(value: float) -> str:
    """A count with thousands separators."""
    return f"{value:,.0f}"


def fmt_diff(value: float) -> str:
    """A signed 4-decimal difference, with a true minus sign and no sign on zero."""
    text = f"{abs(value):.4f}"
    if text == f"{0:.4f}":
        return text
    return ("+" if value > 0 else MINUS) + text


def fmt_threshold(value: float) -> str:
    """A threshold as people write it: 2 decimals (0.10), more only when it has them (0.125)."""
    text = f"{value:.2f}"
    return text if float(text) == value else f"{value:g}"


# ----------------------------------------------------------------------------------------- escaping


def esc(text: object) -> str:
    """``text`` escaped for reportlab's paragraph markup, so it shows literally."""
    return escape(str(text))


def code_spans(text: str) -> str:
    """Escaped text with `backtick` spans set in the monospace font."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: show them literally
        return esc(text)
    return "".join(esc(p) if i % 2 == 0 else f'<font face="{MONO}">{esc(p)}</font>' for i, p in enumerate(parts))


# ---------------------------------------------------------------------------------------- flowables


def image(png: bytes, size: tuple[float, float]) -> Image:
    """A chart at its natural size (inches to points), so chart fonts keep their nominal size."""
    img = Image(io.BytesIO(png), width=size[0] * 72, height=size[1] * 72)
    img.hAlign = "CENTER"
    return img


def side_by_side(left: Flowable, left_width: float, right: Flowable, right_width: float) -> Table:
    """Two flowables next to each other, top-aligned, without padding (e.g. a chart and its table)."""
    t = Table([[left, right]], colWidths=[left_width, right_width], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    return t


class _Heading(Paragraph):  # type: ignore[misc]  # reportlab ships no types: Paragraph is Any
    """A heading that :func:`render` also turns into a PDF outline (bookmark) entry."""

    # Set per instance, not through __init__: reportlab's Paragraph.split builds parts with the
    # Paragraph constructor signature.
    outline_level: int


def heading(text: str, level: int = 0) -> Paragraph:
    """A section (level 0, style h1) or subsection (level 1, style h2) heading with a PDF bookmark."""
    h = _Heading(esc(text), STYLES["h1" if level == 0 else "h2"])
    h.outline_level = level
    return h


# ------------------------------------------------------------------------------------------ rendering


@dataclass(frozen=True)
class Metadata:
    """The PDF's document properties; given, never read from the clock or the machine."""

    title: str
    subject: str
    keywords: tuple[str, ...] = ()
    author: str = "riskops"
    creator: str = "riskops reports"


@dataclass(frozen=True)
class Header:
    """The running header and footer of every page."""

    title: str  # header, left: which report, e.g. "Candidate model report · credit risk committee"
    identity: str  # header, right, bold: what it is about (a model name); cut with an ellipsis if long
    identity_suffix: str = ""  # drawn after ``identity`` and never cut, e.g. " · version 7"
    footer: str = ""  # footer, left (generated when, run, dataset); cut to fit beside "Page x of y"


class _Doc(BaseDocTemplate):  # type: ignore[misc]  # reportlab ships no types
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headings = 0

    def afterFlowable(self, flowable: Flowable) -> None:
        level = getattr(flowable, "outline_level", None)  # None on the parts of a heading split across pages
        if isinstance(flowable, _Heading) and level is not None:
            self._headings += 1
            key = f"s{self._headings}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level)


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no types
    """Defers each page until the end so its footer can say "Page x of y"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        self._bookmarks: list[str] = []

    def bookmarkPage(self, key: str) -> None:
        # A bookmark points at the PDF page being written, and no page is written before save(): the
        # bookmarks of a page are kept with it and set when it is written, else all point at page 1.
        self._bookmarks.append(key)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._bookmarks = []
        self._startPage()  # reportlab's own page reset, as showPage does

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(SANS, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE_W - MARGIN_X, MARGIN_BOTTOM - 9 * mm, f"Page {self.getPageNumber()} of {total}")
            for key in state["_bookmarks"]:
                super().bookmarkPage(key)
            super().showPage()
        super().save()


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if needed so it fits ``width`` points (page header and footer)."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "\u2026", font, size) > width:
        text = text[:-1]
    return text + "\u2026"


def _decorate(header: Header) -> Any:
    width = PAGE_W - 2 * MARGIN_X
    room = (width - pdfmetrics.stringWidth(header.title, SANS, 8)
            - pdfmetrics.stringWidth(header.identity_suffix, BOLD, 8.5) - 8 * mm)
    right = _fit(header.identity, BOLD, 8.5, room) + header.identity_suffix
    footer = _fit(header.footer, SANS, 7.5, width - pdfmetrics.stringWidth("Page 99 of 99", SANS, 7.5) - 8 * mm)

    def on_page(canv: Canvas, _doc: BaseDocTemplate) -> None:
        canv.saveState()
        top = PAGE_H - 12 * mm
        canv.setFont(BOLD, 8.5)
        canv.setFillColor(NAVY)
        canv.drawRightString(PAGE_W - MARGIN_X, top, right)
        canv.setFont(SANS, 8)
        canv.setFillColor(MUTED)
        canv.drawString(MARGIN_X, top, header.title)
        canv.setStrokeColor(NAVY)
        canv.setLineWidth(0.8)
        canv.line(MARGIN_X, top - 2.5 * mm, PAGE_W - MARGIN_X, top - 2.5 * mm)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.line(MARGIN_X, MARGIN_BOTTOM - 6 * mm, PAGE_W - MARGIN_X, MARGIN_BOTTOM - 6 * mm)
        canv.setFont(SANS, 7.5)
        canv.drawString(MARGIN_X, MARGIN_BOTTOM - 9 * mm, footer)
        canv.restoreState()

    return on_page


def pages(data: Any, *makers: Callable[[Any], list[Flowable]]) -> list[Flowable]:
    """A report's story: what each page maker makes of `data`, each from a new page."""
    story: list[Flowable] = []
    for i, page in enumerate(makers):
        if i:
            story.append(PageBreak())
        story += page(data)
    return story


def render(story: list[Flowable], metadata: Metadata, header: Header) -> bytes:
    """``story`` as A4 PDF bytes in the house style; the same story and data give the same bytes."""
    buf = io.BytesIO()
    doc = _Doc(
        buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, invariant=1, title=metadata.title, author=metadata.author,
        subject=metadata.subject, creator=metadata.creator, keywords=list(metadata.keywords),
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, PAGE_W - 2 * MARGIN_X, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
                  leftPadding=FRAME_PAD, rightPadding=FRAME_PAD, topPadding=FRAME_PAD, bottomPadding=FRAME_PAD,
                  id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=_decorate(header))])
    with _binary_streams():
        doc.build(story, canvasmaker=_NumberedCanvas)
    return buf.getvalue()


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Streams as plain Flate, without the ASCII85 layer: reportlab's pure-Python ASCII85 encoder is the
    slowest step of a build and inflates images by a quarter. The setting is process-wide, so it is
    restored afterwards."""
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved
