"""Matplotlib charts for the PDF reports, each returned as PNG bytes.

Pure functions of plain data: they draw the numbers they are given and compute nothing about the model
(statistics come from ``ml``). Output is byte-stable: Agg backend, a fixed style independent of any user
matplotlibrc, fixed figure sizes and dpi, and no PNG metadata (matplotlib would otherwise stamp its version).
Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global figure state is kept.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import style  # noqa: E402  (after the backend is chosen)
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from reports.palette import BAD, GOOD, GRID, NAVY  # noqa: E402

DPI = 150
"""Raster resolution of every chart; figure sizes are in inches and match the size drawn in the PDF."""

# Palette shared with the PDF tables (reports/document.py takes NAVY from here) and the monitoring view.
CHALLENGER = "#1F77B4"
CHAMPION = "#7F7F7F"
RED = BAD
SERIES = (CHALLENGER, "#9467BD", "#17BECF", "#8C564B", CHAMPION, NAVY)  # line colours in order; none amber or red

_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.0,
    "axes.edgecolor": "#666666",
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": GRID,
    "grid.linewidth": 0.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "riskops-reports",
    "path.simplify": False,
}


@contextmanager
def _styled() -> Iterator[None]:
    """Matplotlib defaults plus the report style, whatever the process-wide rcParams are."""
    with style.context(["default", _STYLE]):
        yield


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # Fast zlib level: reportlab decodes the PNG and recompresses the pixels itself.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def roc_chart(curves: Sequence[tuple[str, Sequence[float], Sequence[float], str]], title: str,
              size: tuple[float, float] = (6.6, 3.9)) -> bytes:
    """ROC curves: one ``(label, fpr, tpr, colour)`` per model, plus the chance diagonal."""
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.plot([0.0, 1.0], [0.0, 1.0], linestyle=":", color="#999999", linewidth=1.0, label="Random (AUC 0.5)")
        for label, fpr, tpr, colour in curves:
            ax.plot(list(fpr), list(tpr), color=colour, label=label)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate (goods flagged)")
        ax.set_ylabel("True positive rate (bads caught)")
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.04, 0.5))
        return _png(fig)


def ks_chart(threshold: Sequence[float], cum_bad: Sequence[float], cum_good: Sequence[float],
             ks_label: str, ks_threshold: float, title: str, size: tuple[float, float] = (6.6, 3.6)) -> bytes:
    """Cumulative distributions of bads and goods over the score threshold, and the KS threshold line."""
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.plot(list(threshold), list(cum_bad), color=BAD, label="Cumulative bads")
        ax.plot(list(threshold), list(cum_good), color=GOOD, label="Cumulative goods")
        ax.axvline(ks_threshold, color=NAVY, linestyle="--", linewidth=1.0, label=ks_label)
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("Score threshold (predicted probability of default)")
        ax.set_ylabel("Cumulative share")
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
        return _png(fig)


def calibration_chart(mean_p: Sequence[float], observed: Sequence[float], upper: float, title: str,
                      size: tuple[float, float] = (3.3, 3.3)) -> bytes:
    """Observed default rate against mean predicted probability per band; both axes run from 0 to ``upper``."""
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.plot([0.0, upper], [0.0, upper], linestyle=":", color="#999999", linewidth=1.0, label="Perfect")
        ax.plot(list(mean_p), list(observed), color=CHALLENGER, marker="o", markersize=3.5, label="Bands")
        ax.set_xlim(0.0, upper)
        ax.set_ylim(0.0, upper)
        ax.set_aspect("equal")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_major_formatter(_percent)
        ax.yaxis.set_major_formatter(_percent)
        ax.set_xlabel("Mean predicted PD")
        ax.set_ylabel("Observed default rate")
        ax.set_title(title)
        ax.legend(loc="upper left")
        return _png(fig)


def score_histogram_chart(edges: Sequence[float], goods: Sequence[float], bads: Sequence[float], title: str,
                          size: tuple[float, float] = (6.6, 3.3)) -> bytes:
    """Counts of goods and bads per score bin, in two panels sharing the score axis (their scales differ)."""
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        _bars(top, edges, goods, GOOD, "Goods")
        _bars(bottom, edges, bads, BAD, "Bads")
        bottom.set_xlabel("Score (predicted probability of default)")
        top.set_title(title)
        return _png(fig)


def _bars(ax: Axes, edges: Sequence[float], counts: Sequence[float], colour: str, label: str) -> None:
    lefts = list(edges[:-1])
    widths = [right - left for left, right in zip(edges[:-1], edges[1:], strict=True)]
    ax.bar(lefts, list(counts), width=widths, align="edge", color=colour, alpha=0.85,
           edgecolor="white", linewidth=0.4)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel(f"{label} (count)")
    ax.grid(axis="x", visible=False)
    ax.yaxis.set_major_formatter(_thousands)


def feature_importance_chart(items: Sequence[tuple[str, float]],
                             size: tuple[float, float] = (6.6, 3.9)) -> bytes:
    """Horizontal bars of ``(feature, gain)``, drawn in the order given with the first at the top."""
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        names = [name for name, _ in items][::-1]
        gains = [gain for _, gain in items][::-1]
        ax.barh(range(len(names)), gains, color=CHALLENGER, height=0.7)
        ax.set_yticks(range(len(names)), labels=names)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel("Gain")
        ax.set_title(f"Feature importance (top {len(names)} by gain)")
        return _png(fig)


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, ylabel: str,
               references: Sequence[tuple[str, float, str]] = (),
               size: tuple[float, float] = (6.6, 3.0),
               intervals: Sequence[tuple[Sequence[float], Sequence[float]] | None] = (),
               percent: bool = False) -> bytes:
    """A statistic over time: one line per ``(label, values)`` over ``x_labels`` (e.g. weeks), and dashed
    horizontal ``(label, y, colour)`` reference lines (e.g. the amber and red thresholds). ``intervals`` gives
    series ``i`` a shaded ``(low, high)`` band (None: none); ``percent`` shows the y axis as percentages.
    NaN values leave gaps."""
    if any(len(values) != len(x_labels) for _, values in series) or any(
            band is not None and not len(band[0]) == len(band[1]) == len(x_labels) for band in intervals):
        raise ValueError("line_chart: every series and interval needs one value per x label")
    if len(series) > len(SERIES):
        raise ValueError(f"line_chart: at most {len(SERIES)} series")
    with _styled():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        x = list(range(len(x_labels)))
        for label, y, colour in references:
            ax.axhline(y, color=colour, linestyle="--", linewidth=1.0, label=label)
        for (label, values), colour, band in zip(series, SERIES, list(intervals) + [None] * len(series),
                                                 strict=False):
            if band is not None:
                ax.fill_between(x, list(band[0]), list(band[1]), color=colour, alpha=0.15, linewidth=0)
            ax.plot(x, list(values), color=colour, marker="o", markersize=3, label=label)
        if percent:  # as many decimals as the axis range needs
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
        ticks = x[::max(1, -(-len(x) // 13))]  # at most 13 labels, so dates stay readable
        slanted = len(ticks) > 6
        ax.set_xticks(ticks, labels=[x_labels[i] for i in ticks], rotation=45 if slanted else 0,
                      ha="right" if slanted else "center")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
        return _png(fig)


def distribution_chart(panels: Sequence[tuple[str, Sequence[str], Sequence[float], Sequence[float]]], title: str,
                       width: float = 6.6, panel_height: float = 1.9) -> bytes:
    """Reference against current shares per bin, one panel per ``(title, bin labels, reference shares,
    current shares)``, stacked under one ``title``."""
    if not panels:
        raise ValueError("distribution_chart: no panels")
    for name, labels, reference, current in panels:
        if not len(labels) == len(reference) == len(current):
            raise ValueError(f"distribution_chart: panel {name!r} needs one share per label on both sides")
    with _styled():
        fig = Figure(figsize=(width, panel_height * len(panels) + 0.3), dpi=DPI, layout="constrained")
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (name, labels, reference, current) in zip(axes, panels, strict=True):
            x = list(range(len(labels)))
            ax.bar([i - 0.2 for i in x], list(reference), width=0.4, color=CHAMPION, label="Reference")
            ax.bar([i + 0.2 for i in x], list(current), width=0.4, color=CHALLENGER, label="Current")
            slanted = len(labels) > 5
            ax.set_xticks(x, labels=list(labels), rotation=30 if slanted else 0, ha="right" if slanted else "center",
                          fontsize=6.5)
            ax.grid(axis="x", visible=False)
            ax.yaxis.set_major_formatter(_percent)
            ax.set_title(name, fontsize=8.0)
            ax.legend(loc="upper right")
        fig.suptitle(title, fontsize=9.0, fontweight="bold")
        return _png(fig)


def partial_dependence_chart(panels: Sequence[tuple[str, Sequence[float], Sequence[float], bool]],
                             width: float = 6.6, panel_height: float = 1.7) -> bytes:
    """One partial-dependence line per ``(title, grid, mean PD, direction holds)``, two panels a row; a line
    whose direction does not hold is drawn red."""
    if not panels:
        raise ValueError("partial_dependence_chart: no panels")
    for name, grid, pd_, _ in panels:
        if len(grid) != len(pd_):
            raise ValueError(f"partial_dependence_chart: panel {name!r} needs one PD per grid value")
    rows = -(-len(panels) // 2)
    with _styled():
        fig = Figure(figsize=(width, panel_height * rows + 0.2), dpi=DPI, layout="constrained")
        axes = fig.subplots(rows, 2, squeeze=False).ravel()
        for ax, (name, grid, pd_, holds) in zip(axes, panels, strict=False):
            ax.plot(list(grid), list(pd_), color=CHALLENGER if holds else BAD, marker="o", markersize=2.5)
            ax.yaxis.set_major_formatter(_percent)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_title(name, fontsize=7.5)
            ax.set_ylabel("Mean PD")
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        return _png(fig)


def _percent(value: float, _pos: object = None) -> str:
    """Axis tick as a percentage, without decimals when the tick is a whole percent."""
    whole = abs(value * 100 - round(value * 100)) < 1e-9
    return f"{value * 100:.0f}%" if whole else f"{value * 100:.1f}%"


def _thousands(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}"


def colour_for(name: str) -> str:
    """Chart colour of a model role ("challenger" or "champion")."""
    return {"challenger": CHALLENGER, "champion": CHAMPION}.get(name, NAVY)


__all__: list[str] = [
    "DPI", "roc_chart", "ks_chart", "calibration_chart", "score_histogram_chart", "feature_importance_chart",
    "line_chart", "distribution_chart", "partial_dependence_chart", "colour_for",
]
