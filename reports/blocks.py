"""Building blocks shared by the riskops reports: each takes plain data and returns flowables.

The caller (``ml``) computes every number, grades every traffic light and chooses the thresholds;
a block shows them as given. Its only arithmetic is presentation: a difference column, axis limits,
column widths. Headings and explanatory notes belong to the report that places the block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, Paragraph, Spacer, Table

from reports import charts, palette
from reports.document import (
    BETTER,
    BOLD,
    CONTENT_W,
    DASH,
    HEADER_BG,
    LIGHTS,
    MONO,
    MUTED,
    NAVY,
    RULE,
    SANS,
    STYLES,
    WORSE,
    esc,
    fmt4,
    fmt_diff,
    fmt_int,
    fmt_pct,
    fmt_threshold,
    image,
    side_by_side,
)
from reports.tables import table

LightRow = tuple[str, float, str]
"""``(name, value, light)``: a PSI or CSI and the light the caller graded it ("green", "amber", "red")."""

Curve = tuple[str, Sequence[float], Sequence[float], str]
"""``(label, fpr, tpr, colour)``: one model's ROC curve."""


@dataclass(frozen=True)
class Column:
    """A table column: its header, the key of its value in each row, and the value's format."""

    header: str
    key: str
    fmt: Callable[[float], str] = fmt4


# ------------------------------------------------------------------------------------------- tables


def key_value_table(pairs: Sequence[tuple[str, str]], mono: Collection[str] = (),
                    key_width: float = 34 * mm) -> Flowable:
    """Labelled facts (model identity, data window...), one per row; values under a label in ``mono``
    are set in the monospace font (hashes, run IDs). Long values wrap."""
    mono_rows = [("FONT", (1, i), (1, i), MONO, 8, 10.5) for i, (k, _) in enumerate(pairs) if k in mono]
    return table([[k, v] for k, v in pairs], [key_width, CONTENT_W - key_width], header=False,
                 align_right_from=None, zebra=False,
                 extra=[("FONT", (0, 0), (-1, -1), SANS, 8.5, 10.5), ("FONT", (0, 0), (0, -1), BOLD, 8.5, 10.5),
                        *mono_rows, ("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
                        ("LINEBELOW", (0, 0), (-1, -2), 0.3, RULE)])


@dataclass(frozen=True)
class MetricRow:
    """A row of :func:`metrics_table`: its label, the key of its value in each column, how to show it."""

    label: str
    key: str
    better: str = ""  # "higher" or "lower": the difference is coloured green/red; "" for no direction
    fmt: Callable[[float], str] = fmt4
    difference: bool = True  # False: the difference column shows a dash (counts, rates)
    # the cell's text from the column's whole mapping, for a value made of several (an interval); None: fmt
    text: Callable[[Mapping[str, float]], str] | None = None


def metrics_table(columns: Sequence[tuple[str, Mapping[str, float]]], rows: Sequence[MetricRow],
                  difference: bool = False, widths: Sequence[float] | None = None) -> Flowable:
    """Metrics of N models side by side, one ``(header, values)`` column each (e.g. champion and
    challenger, or development and this week). With ``difference`` (two columns only) a last column
    shows second minus first, green where the second is better and red where it is worse."""
    if difference and len(columns) != 2:
        raise ValueError("metrics_table: a difference column needs exactly two columns")
    header = ["Metric", "Better if", *(name for name, _ in columns)] + (["Difference"] if difference else [])
    body: list[list[Any]] = [header]
    extra: list[tuple[Any, ...]] = []
    for i, row in enumerate(rows, start=1):
        values = [float(v[row.key]) for _, v in columns]
        texts = [row.text(v) for _, v in columns] if row.text else [row.fmt(v) for v in values]
        cells = [row.label, row.better or DASH, *texts]
        if difference:
            diff = values[1] - values[0]
            shown = fmt_diff(diff) if row.difference else DASH
            cells.append(shown)
            if row.difference and row.better and shown != fmt4(0.0):
                good = (diff > 0) == (row.better == "higher")
                extra.append(("TEXTCOLOR", (-1, i), (-1, i), BETTER if good else WORSE))
                extra.append(("FONT", (-1, i), (-1, i), BOLD, 8.5))
        body.append(cells)
    extra.append(("ALIGN", (1, 0), (1, -1), "CENTER"))
    extra.append(("TEXTCOLOR", (1, 1), (1, -1), MUTED))
    if widths is None:
        rest = CONTENT_W - 66 * mm
        widths = [44 * mm, 22 * mm] + [min(36 * mm, rest / (len(header) - 2))] * (len(header) - 2)
    return table(body, widths, extra=extra)


_CAL_WIDTHS = {"band": 0.11, "n": 0.19, "observed_rate": 0.19}  # relative column widths by key; others 0.17


def calibration_table(rows: Sequence[Mapping[str, float]], width: float = CONTENT_W, pd_range: bool = False,
                      extra: Sequence[Column] = ()) -> Flowable:
    """Calibration by band: band, accounts, mean PD, observed rate per row (keys band, n, mean_p,
    observed_rate), with the band's PD range (min_p, max_p) if ``pd_range`` and ``extra`` columns (a
    p-value...) last. Rates are fractions, shown as percentages; text values (a band's name, a test's
    result) are shown as they are."""
    columns = [Column("Band", "band", lambda b: f"{b:g}"), Column("Accounts", "n", fmt_int)]
    if pd_range:
        columns += [Column("Min PD", "min_p", fmt_pct), Column("Max PD", "max_p", fmt_pct)]
    columns += [Column("Mean PD", "mean_p", fmt_pct), Column("Observed", "observed_rate", fmt_pct), *extra]
    body: list[list[Any]] = [[c.header for c in columns]]
    body += [[r[c.key] if isinstance(r[c.key], str) else c.fmt(float(r[c.key])) for c in columns] for r in rows]
    weights = [_CAL_WIDTHS.get(c.key, 0.17) for c in columns]
    return table(body, [w / sum(weights) * width for w in weights], width=width,
                 extra=[("FONT", (0, 1), (-1, -1), SANS, 7.5), ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
                        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                        ("ALIGN", (0, 0), (0, -1), "CENTER")])


def calibration(rows: Sequence[Mapping[str, float]], title: str, pd_range: bool = False,
                extra: Sequence[Column] = (), size: tuple[float, float] = (3.2, 3.2)) -> Table:
    """The calibration chart (observed against mean PD, titled ``title``) with :func:`calibration_table`
    beside it."""
    upper = _nice_upper(max(max(r["mean_p"], r["observed_rate"]) for r in rows))
    png = charts.calibration_chart([r["mean_p"] for r in rows], [r["observed_rate"] for r in rows], upper, title,
                                   size=size)
    chart_w = size[0] * 72 + 4 * mm
    return side_by_side(image(png, size), chart_w,
                        calibration_table(rows, CONTENT_W - chart_w, pd_range=pd_range, extra=extra),
                        CONTENT_W - chart_w)


def _nice_upper(value: float) -> float:
    """A round axis limit just above ``value`` (presentation only)."""
    for step in (0.01, 0.02, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.60, 0.80, 1.0):
        if value * 1.05 <= step:
            return step
    return 1.0


def swap_matrix(swap: Mapping[str, Any], rows: tuple[str, str], columns: tuple[str, str]) -> Flowable:
    """Accounts, bads and bad rate by the decisions of two models: ``swap`` has cells "approve->approve",
    "approve->decline", "decline->approve", "decline->decline" (row model's decision first), each with n,
    bads and bad_rate; ``rows`` and ``columns`` label the approve and decline sides. The swap-out cell
    (approved by the row model only) is shaded orange, the swap-in cell blue."""
    def cell(key: str) -> Paragraph:
        c = swap[key]
        return Paragraph(f"<b>{fmt_int(float(c['n']))}</b> accounts<br/>{fmt_int(float(c['bads']))} bads "
                         f"\u00b7 bad rate {fmt_pct(float(c['bad_rate']))}", STYLES["cell"])

    body: list[list[Any]] = [
        ["Accounts by decision", columns[0], columns[1]],
        [rows[0], cell("approve->approve"), cell("approve->decline")],
        [rows[1], cell("decline->approve"), cell("decline->decline")],
    ]
    return table(body, [56 * mm, 58 * mm, 58 * mm], header=False, zebra=False, align_right_from=None, extra=[
        ("FONT", (0, 0), (-1, 0), BOLD, 8.5, 10.5), ("FONT", (0, 0), (0, -1), BOLD, 8.5, 10.5),
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("BACKGROUND", (0, 0), (0, -1), HEADER_BG),
        ("BACKGROUND", (2, 1), (2, 1), colors.HexColor("#FFF1DC")),
        ("BACKGROUND", (1, 2), (1, 2), colors.HexColor("#E3F0FB")),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
    ])


# ---------------------------------------------------------------------------------- traffic lights


def traffic_light(light: str, col: int, row: int) -> tuple[str, tuple[Any, ...]]:
    """A traffic-light cell at (``col``, ``row``): its text and the TableStyle command colouring it.
    The light is shown as given; an unknown one gets a neutral background."""
    text = str(light).lower()
    return text, ("BACKGROUND", (col, row), (col, row), LIGHTS.get(text, HEADER_BG))


def light_summary(label: str, value: float, light: str) -> Flowable:
    """One headline statistic with its light in a bold boxed row, e.g. ``Score PSI | 0.0432 | green``."""
    text, background = traffic_light(light, 2, 0)
    return table([[label, fmt4(value), text]], [30 * mm, 22 * mm, 20 * mm], header=False, zebra=False,
                 align_right_from=None, extra=[
                     ("FONT", (0, 0), (-1, -1), BOLD, 9.5), ("ALIGN", (1, 0), (-1, 0), "CENTER"),
                     background, ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                     ("BACKGROUND", (0, 0), (1, 0), HEADER_BG), ("TOPPADDING", (0, 0), (-1, -1), 4),
                     ("BOTTOMPADDING", (0, 0), (-1, -1), 4), ("LEFTPADDING", (0, 0), (-1, -1), 6),
                     ("RIGHTPADDING", (0, 0), (-1, -1), 6)])


def psi_legend(eps: float, amber: float, red: float, intro: str = "", actual: str = "current",
               expected: str = "reference") -> Paragraph:
    """How PSI is computed and graded, stating ``eps`` and the ``amber``/``red`` thresholds given."""
    a, r = fmt_threshold(amber), fmt_threshold(red)
    return Paragraph(
        f"{esc(intro)}{' ' if intro else ''}PSI = \u03a3 (a \u2212 e) \u00b7 ln(a / e) over bins, with a and e the "
        f"{esc(actual)} and {esc(expected)} shares; \u03b5 = {eps:g} stands in for empty bins so the logarithm "
        f"stays finite. Thresholds: below {a} green (stable), {a} to {r} amber (moderate shift, investigate), "
        f"{r} or more red (significant shift). CSI is the same measure on one feature.", STYLES["small"])


def psi_table(rows: Sequence[LightRow], *, eps: float, amber: float, red: float, intro: str = "",
              actual: str = "current", expected: str = "reference", summary: LightRow | None = None,
              name_header: str = "Feature", value_header: str = "CSI") -> list[Flowable]:
    """PSI/CSI with traffic lights: the legend (:func:`psi_legend`), the optional ``summary`` row as a
    :func:`light_summary` box, then ``rows`` in the order given, each with the light given. More than
    12 rows are set in two column groups side by side."""
    out: list[Flowable] = [psi_legend(eps, amber, red, intro, actual, expected), Spacer(1, 3)]
    if summary is not None:
        out += [light_summary(*summary), Spacer(1, 6)]
    if not rows:
        return out
    groups = 2 if len(rows) > 12 else 1
    per = math.ceil(len(rows) / groups)
    body: list[list[Any]] = [[name_header, value_header, "Light"] * groups]
    extra: list[tuple[Any, ...]] = []
    for r in range(per):
        cells: list[Any] = []
        for g in range(groups):
            i = g * per + r
            if i < len(rows):
                name, value, light = rows[i]
                text, background = traffic_light(light, 3 * g + 2, r + 1)
                cells += [Paragraph(esc(name), STYLES["cell_small"]), fmt4(value), text]
                extra.append(background)
            else:
                cells += ["", "", ""]
        body.append(cells)
    group_w = CONTENT_W / groups
    widths = [group_w - 31 * mm, 16 * mm, 15 * mm] * groups if groups > 1 else [80 * mm, 22 * mm, 18 * mm]
    extra += [("ALIGN", (3 * g + 2, 0), (3 * g + 2, -1), "CENTER") for g in range(groups)]
    extra += [("ALIGN", (3 * g, 0), (3 * g, -1), "LEFT") for g in range(groups)]
    extra += [("FONT", (0, 1), (-1, -1), SANS, 8), ("TOPPADDING", (0, 0), (-1, -1), 2),
              ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if groups > 1:
        extra.append(("LINEAFTER", (2, 0), (2, -1), 0.8, colors.white))
        extra.append(("LINEBEFORE", (3, 0), (3, -1), 6, colors.white))
    out.append(table(body, widths, extra=extra, zebra=False))
    return out


LightCell = tuple[str, str | None]
"""``(text, light)``: a table cell and the light the caller graded it (None: not graded)."""


def light_grid(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[LightCell]]],
               first_width: float = 52 * mm, font_size: float = 7.5) -> Flowable:
    """A table whose cells carry traffic lights (a heat table, e.g. features by week): the first column
    names each row, every other cell is shown as given on its light's background."""
    body: list[list[Any]] = [list(headers)]
    extra: list[tuple[Any, ...]] = []
    for r, (label, cells) in enumerate(rows, start=1):
        if len(cells) != len(headers) - 1:
            raise ValueError(f"light_grid: row {label!r} needs {len(headers) - 1} cells, has {len(cells)}")
        body.append([Paragraph(esc(label), STYLES["cell_small"]), *(text for text, _ in cells)])
        for c, (_, light) in enumerate(cells, start=1):
            if light is not None:
                extra.append(("BACKGROUND", (c, r), (c, r), LIGHTS.get(str(light).lower(), HEADER_BG)))
    rest = (CONTENT_W - first_width) / max(1, len(headers) - 1)
    extra += [("FONT", (0, 0), (-1, -1), SANS, font_size), ("FONT", (0, 0), (-1, 0), BOLD, font_size),
              ("ALIGN", (1, 0), (-1, -1), "CENTER"), ("TOPPADDING", (0, 0), (-1, -1), 2),
              ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("GRID", (1, 1), (-1, -1), 0.4, colors.white)]
    return table(body, [first_width] + [rest] * (len(headers) - 1), extra=extra, zebra=False)


# ------------------------------------------------------------------------------------------- charts


def roc_chart(curves: Sequence[Curve], title: str, size: tuple[float, float] = (6.6, 3.7)) -> Image:
    """ROC curves of one or more models with the chance diagonal."""
    return image(charts.roc_chart(curves, title, size=size), size)


def ks_chart(threshold: Sequence[float], cum_bad: Sequence[float], cum_good: Sequence[float], ks: float,
             ks_threshold: float, title: str, size: tuple[float, float] = (6.6, 3.3)) -> Image:
    """Cumulative shares of bads and goods over the score threshold, with the KS line at ``ks_threshold``."""
    png = charts.ks_chart(threshold, cum_bad, cum_good, f"KS {fmt4(ks)} at {fmt4(ks_threshold)}", ks_threshold,
                          title, size=size)
    return image(png, size)


def score_distribution_chart(edges: Sequence[float], goods: Sequence[float], bads: Sequence[float], title: str,
                             size: tuple[float, float] = (6.6, 3.2)) -> Image:
    """Counts of goods and bads per score bin (``len(edges) == len(goods) + 1``)."""
    return image(charts.score_histogram_chart(edges, goods, bads, title, size=size), size)


def distribution_chart(panels: Sequence[tuple[str, Sequence[str], Sequence[float], Sequence[float]]], title: str,
                       width: float = 6.6, panel_height: float = 1.9) -> Image:
    """Reference against current shares per bin, one panel per ``(title, labels, reference, current)``."""
    png = charts.distribution_chart(panels, title, width=width, panel_height=panel_height)
    return image(png, (width, panel_height * len(panels) + 0.3))


def trend_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, ylabel: str,
                amber: float | None = None, red: float | None = None,
                size: tuple[float, float] = (6.6, 3.0),
                intervals: Sequence[tuple[Sequence[float], Sequence[float]] | None] = (),
                percent: bool = False) -> Image:
    """A statistic over time (PSI by week, AUC by month...), one line per ``(label, values)``, with
    dashed amber and red threshold lines when those are given, shaded ``(low, high)`` ``intervals`` per
    series (e.g. confidence intervals) and the y axis in percent if ``percent``."""
    references = [(f"{name.capitalize()} from {fmt_threshold(y)}", y, colour)
                  for name, y, colour in (("amber", amber, palette.AMBER), ("red", red, charts.RED)) if y is not None]
    return image(charts.line_chart(x_labels, series, title, ylabel, references, size=size, intervals=intervals,
                                   percent=percent), size)


# --------------------------------------------------------------------------------------- fair lending


def _shown(value: Any, fmt: Callable[[float], str]) -> str:
    """``fmt`` of a number; a dash for None or NaN."""
    return DASH if value is None or (isinstance(value, float) and math.isnan(value)) else fmt(float(value))


def ratio_text(row: Mapping[str, Any]) -> str:
    """An adverse impact ratio with its 95% interval, e.g. ``0.84 [0.78, 0.91]``; the reference group reads
    ``reference``."""
    if row.get("reference"):
        return "reference"
    ratio = _shown(row.get("ratio"), lambda v: f"{v:.2f}")
    if ratio == DASH:
        return DASH
    return f"{ratio} [{_shown(row.get('ratio_low'), lambda v: f'{v:.2f}')}, " \
           f"{_shown(row.get('ratio_high'), lambda v: f'{v:.2f}')}]"


def fairness_table(rows: Sequence[Mapping[str, Any]], *, outcomes: bool = False, auc: bool = False,
                   approved_bad: bool = False, against: Sequence[Mapping[str, Any]] | None = None,
                   names: tuple[str, str] = ("Champion", "Challenger")) -> Flowable:
    """One attribute's groups (``ml.fairness.GroupRow`` as dicts, the reference first): rows, approval rate and
    adverse impact ratio with its interval on the light the caller graded, and with ``outcomes`` the default
    rate and mean PD, ``approved_bad`` the approved book's bad rate, ``auc`` the AUC with its interval. With
    ``against`` (the same groups of another model, e.g. the champion) its approval rate and ratio come first,
    headed by ``names``."""
    other = {str(r["group"]): r for r in against or []}
    header = ["Group", "Rows"]
    if against is not None:
        header += [f"{names[0]} approval", f"{names[0]} AIR"]
    header += [f"{names[1]} approval" if against is not None else "Approval rate",
               "AIR [95% CI]" if against is None else f"{names[1]} AIR [95% CI]"]
    if outcomes:
        header += ["Default rate", "Mean PD"]
    if approved_bad:
        header += ["Approved bad rate"]
    if auc:
        header += ["AUC [95% CI]"]
    body: list[list[Any]] = [header]
    extra: list[tuple[Any, ...]] = []
    air_col = header.index("AIR [95% CI]" if against is None else f"{names[1]} AIR [95% CI]")
    for i, r in enumerate(rows, start=1):
        cells: list[Any] = [str(r["group"]), _shown(r["rows"], fmt_int)]
        if against is not None:
            o = other.get(str(r["group"]), {})
            cells += [_shown(o.get("approval_rate"), fmt_pct), ratio_text(o) if o else DASH]
            if o.get("light") in LIGHTS:
                extra.append(("BACKGROUND", (3, i), (3, i), LIGHTS[str(o["light"])]))
        cells += [_shown(r["approval_rate"], fmt_pct), ratio_text(r), *_outcome_cells(r, outcomes, approved_bad, auc)]
        body.append(cells)
        light = r.get("light")
        if light in LIGHTS:
            extra.append(("BACKGROUND", (air_col, i), (air_col, i), LIGHTS[str(light)]))
        elif light is not None:
            extra.append(("BACKGROUND", (air_col, i), (air_col, i), HEADER_BG))
    extra += [("FONT", (0, 0), (-1, 0), BOLD, 7, 8.5), ("FONT", (0, 1), (-1, -1), SANS, 7.5),
              ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
              ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5)]
    return table(body, extra=extra, zebra=False)


def _outcome_cells(r: Mapping[str, Any], outcomes: bool, approved_bad: bool, auc: bool) -> list[str]:
    """A group's optional cells of `fairness_table`, in its header's order."""
    cells = [_shown(r.get("default_rate"), fmt_pct), _shown(r.get("mean_pd"), fmt_pct)] if outcomes else []
    if approved_bad:
        cells.append(_shown(r.get("approved_bad_rate"), fmt_pct))
    if auc:
        value = _shown(r.get("auc"), fmt4)
        cells.append(DASH if value == DASH else
                     f"{value} [{_shown(r.get('auc_low'), fmt4)}, {_shown(r.get('auc_high'), fmt4)}]")
    return cells


def ratio_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], minimum: float, title: str,
                size: tuple[float, float] = (6.6, 2.6)) -> Image:
    """Adverse impact ratios over time, one line per group (NaN: not computed), with the minimum ratio below
    which a group is red."""
    png = charts.line_chart(x_labels, series, title, "ratio to the reference",
                            [(f"Minimum ratio {fmt_threshold(minimum)}", minimum, charts.RED)], size=size)
    return image(png, size)
