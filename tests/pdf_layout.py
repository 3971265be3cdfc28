"""The layout checker of every riskops PDF: no two words overlap, no word leaves the page frame.

It reads each page's words with pdfplumber (pdfminer.six underneath) in the order the PDF draws them
(``use_text_flow``), so a string drawn on top of another stays a word of its own instead of being merged
with it, as a reading-order extraction would ("8.05%0.8552"). A word is a run of characters drawn one
after the other on one baseline without a space; its box is pdfminer's: the glyphs' advance widths
across, and from the font's descent up one font size.

The rule, with its tolerance:

- Two words whose boxes share more than ``TOLERANCE`` (0.5 pt) of height, i.e. that sit on one line,
  must be at least ``MIN_GAP`` (1 pt) apart across: an overlap, or two table cells run together with no
  room between them, fails. Words of one line of text are a space apart, and a space is 1.9 pt at the
  smallest size the reports use (DejaVu Sans' space is 0.318 em, at 6 pt); cells are two paddings apart.
- Every word lies inside the page frame (the house margins: ``FRAME``) to within ``TOLERANCE``.

``TOLERANCE`` absorbs what is not a collision: lines set solid (leading equal to the font size) have boxes
that touch, and positions are floats written with a few decimals, so boxes can share a hair; 0.5 pt is a
fifth of the narrowest glyph at 6 pt (a full stop, 1.9 pt), so any real collision exceeds it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
from reportlab.lib.units import mm

from reports.document import MARGIN_X

TOLERANCE = 0.5  # points; see the module's docstring
MIN_GAP = 1.0  # points
FRAME = (MARGIN_X, 8 * mm)  # the house margins every word stays inside: across, and up and down (header at
# 12 mm from the top edge, footer at 9 mm from the bottom edge)


@dataclass(frozen=True)
class Word:
    """A word as drawn: its text and box in points, from the page's top-left corner."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    def __str__(self) -> str:
        return f"{self.text!r} ({self.x0:.1f}, {self.top:.1f}, {self.x1:.1f}, {self.bottom:.1f})"


@dataclass(frozen=True)
class Finding:
    """A fault on a page (numbered from 1): two words that collide, or a word outside the frame."""

    page: int
    words: tuple[Word, ...]
    what: str  # "overlap" or "outside the frame"

    def __str__(self) -> str:
        return f"page {self.page}: {self.what}: " + " and ".join(str(w) for w in self.words)


def page_words(pdf: bytes | Path) -> list[tuple[tuple[float, float], list[Word]]]:
    """Each page's size (width, height) and its words, in the order the PDF draws them."""
    source = io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf
    out = []
    with pdfplumber.open(source) as doc:
        for page in doc.pages:
            # x_tolerance: characters of one string follow each other exactly; the next string starts anew
            words = page.extract_words(use_text_flow=True, x_tolerance=0.01, y_tolerance=0.5)
            out.append(((float(page.width), float(page.height)),
                        [Word(w["text"], float(w["x0"]), float(w["top"]), float(w["x1"]), float(w["bottom"]))
                         for w in words]))
    return out


def collisions(words: list[Word]) -> list[tuple[Word, Word]]:
    """Pairs of words on one line (sharing more than TOLERANCE of height) less than MIN_GAP apart across."""
    found = []
    ordered = sorted(words, key=lambda w: (w.top, w.x0))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.top >= a.bottom - TOLERANCE:  # sorted by top: no later word shares a's line
                break
            if min(a.bottom, b.bottom) - max(a.top, b.top) > TOLERANCE \
                    and max(a.x0, b.x0) - min(a.x1, b.x1) < MIN_GAP:
                found.append((a, b))
    return found


def check(pdf: bytes | Path, frame: tuple[float, float] = FRAME) -> list[Finding]:
    """Every overlap and every word outside the page inset by ``frame`` (across, up and down), page by page."""
    findings: list[Finding] = []
    for number, ((width, height), words) in enumerate(page_words(pdf), start=1):
        findings += [Finding(number, pair, "overlap") for pair in collisions(words)]
        dx, dy = frame
        findings += [Finding(number, (w,), "outside the frame") for w in words
                     if w.x0 < dx - TOLERANCE or w.x1 > width - dx + TOLERANCE
                     or w.top < dy - TOLERANCE or w.bottom > height - dy + TOLERANCE]
    return findings


def assert_clean(pdf: bytes | Path, name: str = "") -> None:
    """Fails listing every finding of :func:`check`."""
    findings = check(pdf)
    assert not findings, f"{name or pdf}: {len(findings)} layout fault(s):\n" + "\n".join(map(str, findings))
