"""The table builder of every riskops report: the house style, and columns that fit their frame.

The rule, for every table of every report (:func:`table`):

- Each column is as wide as its content asks: every cell's text measured in the cell's own font and size
  (``stringWidth``; a paragraph by reportlab's own line widths), plus the cell's paddings. The widths a
  report gives are its design: kept where the content fits them, widened where it does not.
- When the columns' one-line widths do not fit the frame, the widest columns give first (the design's slack,
  then their lines), in steps: every cell on one line, body cells on one line (headers wrap), every word
  whole, a word wider than a third of the frame (a hash) broken. A text cell wider than its column becomes a
  paragraph in the cell's font, colour and alignment, broken at spaces only, so a number (any word up to a
  third of the frame, e.g. "0.8552" or "12.34%") is never cut or broken; a longer word breaks where the line
  ends (reportlab's ``splitLongWords``) only when it cannot have its whole width.
- A table whose words cannot fit side by side even then is set a font step (0.5 pt) smaller, down to 6 pt;
  below that its columns are split into groups set one under the other, each repeating the first column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from reports.document import BOLD, CONTENT_W, HEADER_BG, INK, NAVY, RULE, SANS, ZEBRA, esc

MIN_FONT = 6.0  # points: the smallest size a table is set in before its columns are split
FONT_STEP = 0.5  # points
_HUGE = 1e6
_ROUNDING = 0.1  # points added to every measured width, so float rounding never wraps a line that fits
_ALIGN = {"LEFT": TA_LEFT, "RIGHT": TA_RIGHT, "CENTER": TA_CENTER, "CENTRE": TA_CENTER, "DECIMAL": TA_RIGHT}

Command = tuple[Any, ...]


def table(rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None, extra: Sequence[Command] = (),
          header: bool = True, zebra: bool = True, align_right_from: int | None = 1, width: float = CONTENT_W,
          heights: Sequence[float | None] | None = None) -> Flowable:
    """A table in the house style (navy-ruled header row, light zebra rows, numbers right-aligned) whose
    columns fit ``width`` (the frame's by default), by the rule of this module.

    Cells are text (shown literally), paragraphs or other flowables; ``widths`` the columns' designed widths
    (None: their content's); ``extra`` further TableStyle commands, applied last; ``align_right_from`` the
    first right-aligned column (None: all left); ``heights`` fixed row heights (None: as the content needs).
    """
    cmds: list[Command] = [
        ("FONT", (0, 0), (-1, -1), SANS, 8.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
    ]
    if header:
        cmds += [
            ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, NAVY),
        ]
    if align_right_from is not None:
        cmds.append(("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"))
    if zebra:
        cmds += [("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(2 if header else 1, len(rows), 2)]
    return _fit([list(r) for r in rows], widths, cmds + list(extra), width, 1 if header else 0, heights)


# ------------------------------------------------------------------------------------------ measuring


def _size(value: Any, style: Any, shrink: float) -> float:
    """The font size of a cell after ``shrink`` points (never below MIN_FONT nor above its own)."""
    own = float(value.style.fontSize if isinstance(value, Paragraph) else style.fontsize)
    return max(min(own, MIN_FONT), own - shrink)


def _shrunk(value: Any, size: float) -> Any:
    """A paragraph cell set at ``size`` points (its leading scaled alike); anything else as it is."""
    if not isinstance(value, Paragraph) or size == value.style.fontSize:
        return value
    scale = size / value.style.fontSize
    return Paragraph(value.text, ParagraphStyle(f"{value.style.name}@{size:g}", parent=value.style, fontSize=size,
                                                leading=value.style.leading * scale))


def _measure(value: Any, style: Any, size: float) -> tuple[float, float]:
    """``(word, need)`` of a cell without its paddings: its longest word's width, below which a word would be cut,
    and the width that shows it on as few lines as it has."""
    if isinstance(value, (list, tuple)):
        sizes = [_measure(v, style, size) for v in value] or [(0.0, 0.0)]
        return max(w for w, _ in sizes), max(n for _, n in sizes)
    if isinstance(value, Paragraph):
        value.wrap(_HUGE, _HUGE)
        return float(value.minWidth()), max(map(float, value.getActualLineWidths0()), default=0.0)
    if isinstance(value, Flowable):
        width = float(value.wrap(_HUGE, _HUGE)[0])
        return width, width
    text = "" if value is None else str(value)
    longest = max((stringWidth(w, style.fontname, size) for w in text.split()), default=0.0)
    return longest, _line_width(text, style.fontname, size)


def _line_width(text: str, font: str, size: float) -> float:
    """The width of the longest line of ``text``."""
    return max((stringWidth(line, font, size) for line in text.split("\n")), default=0.0)


def _wrapped(value: Any, style: Any, size: float, room: float) -> Any:
    """A text cell that needs more than ``room`` points as a paragraph in the cell's style, wrapped at spaces."""
    if isinstance(value, (Flowable, list, tuple)) or value is None:
        return value
    text = str(value)
    if _line_width(text, style.fontname, size) <= room:
        return value
    leading = float(style.leading) * size / float(style.fontsize)
    para = ParagraphStyle(f"cell:{style.fontname}:{size:g}:{style.alignment}", fontName=style.fontname,
                          fontSize=size, leading=leading, textColor=style.color,
                          alignment=_ALIGN.get(str(style.alignment).upper(), TA_LEFT))
    return Paragraph(esc(text).replace("\n", "<br/>"), para)


# ------------------------------------------------------------------------------------------- fitting


def _allocate(floors: list[float], words: list[float], bodies: list[float], needs: list[float],
              preferred: Sequence[float] | None, width: float) -> list[float]:
    """Column widths within ``width``: each column's need or its designed width, whichever is more. If that is
    too wide, the widest columns give first (a level above which no column reaches), in steps: down to one line
    per cell, to one line per body cell (headers wrap), to the longest word, to the floor (long words break)."""
    want = [max(n, p) for n, p in zip(needs, preferred or needs, strict=True)]
    if sum(want) <= width:
        return want
    for low in (needs, [max(b, w) for b, w in zip(bodies, words, strict=True)], words):
        if sum(low) <= width:
            return _level(low, want, width)
    return _level(floors, want, width)  # _fit saw to it that the floors fit


def _level(low: list[float], high: list[float], width: float) -> list[float]:
    """Each column at ``level``, within its own [low, high], for the level at which they sum to ``width``."""
    bottom, top = 0.0, max(high)
    for _ in range(60):  # bisection, to far below a thousandth of a point
        level = (bottom + top) / 2
        if sum(max(lo, min(hi, level)) for lo, hi in zip(low, high, strict=True)) > width:
            top = level
        else:
            bottom = level
    return [max(lo, min(hi, bottom)) for lo, hi in zip(low, high, strict=True)]


def _fit(rows: list[list[Any]], preferred: Sequence[float] | None, cmds: list[Command], width: float, repeat: int,
         heights: Sequence[float | None] | None, shrink: float = 0.0) -> Flowable:
    """The table at the largest font (``shrink`` points smaller at least) at which it fits, or split."""
    probe = Table(rows)
    probe.setStyle(TableStyle(cmds))
    # reportlab resolves every command (negative indices, later commands winning) into one style per cell
    styles = probe._cellStyles  # noqa: SLF001 (reportlab's own resolution; no public accessor)
    ncols = len(rows[0])
    if preferred is not None and len(preferred) != ncols:
        raise ValueError(f"table: {len(preferred)} widths for {ncols} columns")
    cap = width / 3
    pads = [[float(s.leftPadding + s.rightPadding) + _ROUNDING for s in row] for row in styles]
    while True:
        sizes = [[_size(v, styles[r][c], shrink) for c, v in enumerate(row)] for r, row in enumerate(rows)]
        cells = [[_shrunk(v, sizes[r][c]) for c, v in enumerate(row)] for r, row in enumerate(rows)]
        measured = [[_measure(v, styles[r][c], sizes[r][c]) for c, v in enumerate(row)]
                    for r, row in enumerate(cells)]
        words = [max(measured[r][c][0] + pads[r][c] for r in range(len(rows))) for c in range(ncols)]
        floors = [max(min(cap, measured[r][c][0]) + pads[r][c] for r in range(len(rows))) for c in range(ncols)]
        needs = [max(measured[r][c][1] + pads[r][c] for r in range(len(rows))) for c in range(ncols)]
        bodies = [max([measured[r][c][1] + pads[r][c] for r in range(repeat, len(rows))], default=0.0)
                  for c in range(ncols)]
        if sum(floors) <= width:
            break
        if any(s > MIN_FONT for row in sizes for s in row):
            shrink += FONT_STEP
        elif ncols > 1:
            return _split(rows, preferred, cmds, width, repeat, heights, floors, shrink)
        else:  # a single column is never wider than a third of the frame and its paddings
            break
    widths = _allocate(floors, words, bodies, needs, preferred, width)
    body = [[_wrapped(v, styles[r][c], sizes[r][c], widths[c] - pads[r][c]) for c, v in enumerate(row)]
            for r, row in enumerate(cells)]
    resized: list[Command] = []
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            s = styles[r][c]
            if not isinstance(v, Flowable) and sizes[r][c] != s.fontsize:
                resized += [("FONTSIZE", (c, r), (c, r), sizes[r][c]),
                            ("LEADING", (c, r), (c, r), s.leading * sizes[r][c] / s.fontsize)]
    t = Table(body, colWidths=widths, rowHeights=list(heights) if heights else None, repeatRows=repeat,
              hAlign="LEFT")
    t.setStyle(TableStyle(cmds + resized))
    return t


def _split(rows: list[list[Any]], preferred: Sequence[float] | None, cmds: list[Command], width: float, repeat: int,
           heights: Sequence[float | None] | None, floors: list[float], shrink: float) -> Flowable:
    """The table as groups of its columns one under the other, each led by the first column, all in the
    smallest font (``floors``: the columns' widths in it)."""
    groups: list[list[int]] = [[]]
    for c in range(1, len(floors)):
        if groups[-1] and floors[0] + sum(floors[k] for k in groups[-1]) + floors[c] > width:
            groups.append([])
        groups[-1].append(c)
    parts: list[Flowable] = []
    for group in groups:
        columns = [0, *group]
        parts += [_fit([[row[c] for c in columns] for row in rows],
                       [preferred[c] for c in columns] if preferred else None,
                       _remap(cmds, columns, len(floors)), width, repeat, heights, shrink), Spacer(1, 6)]
    return KeepTogether(parts[:-1])


def _remap(cmds: list[Command], columns: list[int], ncols: int) -> list[Command]:
    """The style commands of the ``columns`` kept (first column, then a run of the others), renumbered."""
    new = {old: i for i, old in enumerate(columns)}
    out: list[Command] = []
    for name, (c0, r0), (c1, r1), *args in cmds:
        kept = [new[c] for c in range(c0 % ncols, c1 % ncols + 1) if c in new]
        if kept:
            out.append((name, (min(kept), r0), (max(kept), r1), *args))
    return out
