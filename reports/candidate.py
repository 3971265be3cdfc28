"""Candidate-model PDF report for the credit risk committee.

The caller (``ml``) computes every number and passes plain data in a :class:`CandidateReportData`;
this module only lays it out. It never computes a statistic: the one arithmetic it does is the
challenger-minus-champion difference column and chart axis limits, both presentation.

Output is deterministic: the same data gives the same PDF bytes (reportlab invariant mode, no clock
read, byte-stable PNG charts, fonts embedded from matplotlib's bundled DejaVu files).

Layout, A4 portrait, five pages for typical input (a very long per-feature CSI list or many
calibration bands can push a section onto an extra page):

1. identity, development samples, verdict, champion vs challenger metrics
2. ROC curve and KS chart
3. calibration chart and table, score distribution of goods and bads
4. feature importance and population stability (PSI/CSI) against the champion's reference
5. swap matrix at the production threshold, threshold rationale, how to approve, committee sign-off

Conventions the caller must follow: rates (``positive_rate``, ``bad_rate``, calibration
probabilities) are fractions in [0, 1]; swap matrix keys read ``"<champion decision>-><challenger
decision>"``; ``feature_importance`` is sorted by gain, descending.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
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
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from reports import charts

# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ModelMetrics:
    """Test-sample metrics of one model; all plain Python floats (``n`` an int, rates fractions)."""

    auc: float
    gini: float
    ks: float
    brier: float
    log_loss: float
    precision: float
    recall: float
    fbeta: float
    threshold: float
    n: int
    positive_rate: float


@dataclass(frozen=True)
class CandidateReportData:
    """Everything the candidate report shows, already computed by the caller."""

    dataset: str
    model_name: str
    version: str
    run_id: str
    as_of: str
    data_window: tuple[str, str]
    data_hash: str
    sample_sizes: dict[str, dict[str, float]]  # {"train": {"n": .., "positive_rate": ..}, "valid": .., "test": ..}
    verdict: str  # "recommended" | "not recommended"
    verdict_reason: str
    challenger: ModelMetrics
    champion: ModelMetrics | None  # None on the first model
    champion_version: str | None
    beta: float
    threshold_method: str  # "fbeta" | "cost"
    threshold_rationale: str
    roc: dict[str, dict[str, list[float]]]  # {"challenger": {"fpr": [..], "tpr": [..]}, "champion": {..} optional}
    ks_curve: dict[str, list[float] | float]  # threshold, cum_bad, cum_good (lists); ks, ks_threshold (floats)
    calibration: list[dict[str, float]]  # rows: band, n, min_p, max_p, mean_p, observed_rate
    score_histogram: dict[str, list[float]]  # {"edges": [..], "goods": [..], "bads": [..]}
    feature_importance: list[tuple[str, float]]  # (feature, gain) sorted desc; the top 15 are shown
    psi_vs_champion: dict[str, Any] | None  # {"score_psi", "score_light", "features": {name: {"csi", "light"}}}
    swap_matrix: dict[str, Any] | None  # "approve->approve".. each {"n", "bads", "bad_rate"}; "swap_in", "swap_out"
    approval_instructions: list[str]  # how to approve (Airflow UI path, CLI command); `backticks` set in mono
    generated_at: str  # ISO timestamp given by the caller (the report never reads the clock)
    eps: float = 1e-4  # PSI epsilon, stated in the report


VERDICTS = ("recommended", "not recommended")
TOP_FEATURES = 15
PSI_AMBER = 0.10
PSI_RED = 0.25

# ------------------------------------------------------------------------------------------- styling

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

NAVY = colors.HexColor(charts.NAVY)
INK = colors.HexColor("#222222")
MUTED = colors.HexColor("#5F6B7A")
RULE = colors.HexColor("#C9D1DB")
HEADER_BG = colors.HexColor("#E7ECF2")
ZEBRA = colors.HexColor("#F6F8FA")
BETTER = colors.HexColor("#1B7F3B")
WORSE = colors.HexColor("#B3261E")
LIGHTS = {
    "green": colors.HexColor("#C8E6C9"),
    "amber": colors.HexColor("#FFE0B2"),
    "red": colors.HexColor("#FFCDD2"),
}
VERDICT_STYLE = {  # background, border, title colour
    "recommended": (colors.HexColor("#EAF6EC"), colors.HexColor("#2E7D32"), colors.HexColor("#1B5E20")),
    "not recommended": (colors.HexColor("#FDEEEC"), colors.HexColor("#C0392B"), colors.HexColor("#9B2C1F")),
}

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
    "cell_right": _style("cell_right", fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
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


def _esc(text: object) -> str:
    return escape(str(text))


def _code_spans(text: str) -> str:
    """Escaped text with `backtick` spans set in the monospace font."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: show them literally
        return _esc(text)
    return "".join(_esc(p) if i % 2 == 0 else f'<font face="{MONO}">{_esc(p)}</font>' for i, p in enumerate(parts))


# ------------------------------------------------------------------------------------------- checks


def _validate(data: CandidateReportData) -> None:
    if data.verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {data.verdict!r}")
    if data.threshold_method not in ("fbeta", "cost"):
        raise ValueError(f"threshold_method must be 'fbeta' or 'cost', got {data.threshold_method!r}")
    if (data.champion is None) != (data.champion_version is None):
        raise ValueError("champion and champion_version must both be given or both be None")
    if "challenger" not in data.roc:
        raise ValueError("roc needs a 'challenger' curve")
    for name, curve in data.roc.items():
        if len(curve["fpr"]) != len(curve["tpr"]):
            raise ValueError(f"roc[{name!r}]: fpr and tpr differ in length")
    lengths = {len(_floats(data.ks_curve, k)) for k in ("threshold", "cum_bad", "cum_good")}
    if len(lengths) != 1:
        raise ValueError("ks_curve: threshold, cum_bad and cum_good differ in length")
    hist = data.score_histogram
    if not (len(hist["edges"]) == len(hist["goods"]) + 1 == len(hist["bads"]) + 1):
        raise ValueError("score_histogram: need len(edges) == len(goods) + 1 == len(bads) + 1")
    if not data.feature_importance:
        raise ValueError("feature_importance is empty")
    if not data.calibration:
        raise ValueError("calibration is empty")


def _floats(d: dict[str, list[float] | float], key: str) -> list[float]:
    value = d[key]
    if not isinstance(value, list):
        raise ValueError(f"ks_curve[{key!r}] must be a list of floats")
    return value


def _float(d: dict[str, list[float] | float], key: str) -> float:
    value = d[key]
    if isinstance(value, list):
        raise ValueError(f"ks_curve[{key!r}] must be a float")
    return float(value)


# ------------------------------------------------------------------------------------------ helpers


def _table(rows: list[list[Any]], widths: Sequence[float], extra: Sequence[tuple[Any, ...]] = (),
           header: bool = True, zebra: bool = True, align_right_from: int | None = 1) -> Table:
    """A table in the house style: navy-ruled header row, light zebra rows, numbers right-aligned."""
    table = Table(rows, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    cmds: list[tuple[Any, ...]] = [
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
        first = 1 if header else 0
        cmds += [("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(first + 1, len(rows), 2)]
    table.setStyle(TableStyle(cmds + list(extra)))
    return table


def _image(png: bytes, size: tuple[float, float]) -> Image:
    """A chart at its natural size (inches to points), so chart fonts keep their nominal size."""
    img = Image(io.BytesIO(png), width=size[0] * 72, height=size[1] * 72)
    img.hAlign = "CENTER"
    return img


def _light_cell(light: str) -> str:
    return str(light).lower()


def _nice_upper(value: float) -> float:
    """A round axis limit just above ``value`` (presentation only)."""
    for step in (0.01, 0.02, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.60, 0.80, 1.0):
        if value * 1.05 <= step:
            return step
    return 1.0


# ------------------------------------------------------------------------------------------ page 1


def _identity(data: CandidateReportData) -> list[Flowable]:
    champion = (f"version {_esc(data.champion_version)} (current production model)"
                if data.champion_version is not None else "none: first model for this dataset")
    pairs = [
        ("Model name", _esc(data.model_name), "cell"),
        ("Version", _esc(data.version), "cell"),
        ("MLflow run ID", _esc(data.run_id), "cell_mono"),
        ("Dataset", _esc(data.dataset), "cell"),
        ("As-of date", _esc(data.as_of), "cell"),
        ("Data window", f"{_esc(data.data_window[0])} to {_esc(data.data_window[1])}", "cell"),
        ("Data hash", _esc(data.data_hash), "cell_mono"),
        ("Champion", champion, "cell"),
    ]
    rows: list[list[Any]] = [[Paragraph(f"<b>{k}</b>", STYLES["cell"]), Paragraph(v, _wrap(STYLES[s]))]
                             for k, v, s in pairs]
    table = _table(rows, [34 * mm, CONTENT_W - 34 * mm], header=False, align_right_from=None,
                   extra=[("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
                          ("LINEBELOW", (0, 0), (-1, -2), 0.3, RULE)], zebra=False)
    return [Paragraph("Model identity", STYLES["h2"]), table]


def _wrap(style: ParagraphStyle) -> ParagraphStyle:
    """Same style, allowed to break long unspaced strings (hashes, run IDs) anywhere."""
    return ParagraphStyle(f"{style.name}_wrap", parent=style, wordWrap="CJK")


_SAMPLE_LABELS = {"train": "Train", "valid": "Validation", "validation": "Validation", "test": "Test"}


def _samples(data: CandidateReportData) -> list[Flowable]:
    order: list[str] = [k for k in ("train", "valid", "validation", "test") if k in data.sample_sizes]
    order += [k for k in data.sample_sizes if k not in order]
    rows: list[list[Any]] = [["Sample", "Accounts", "Positive (bad) rate"]]
    rows += [[_SAMPLE_LABELS.get(k, k), fmt_int(data.sample_sizes[k]["n"]),
              fmt_pct(data.sample_sizes[k]["positive_rate"])] for k in order]
    return [Paragraph("Development samples", STYLES["h2"]),
            _table(rows, [50 * mm, 35 * mm, 40 * mm])]


def _verdict(data: CandidateReportData) -> Flowable:
    background, border, title_colour = VERDICT_STYLE[data.verdict]
    title = ParagraphStyle("verdict_c", parent=STYLES["verdict"], textColor=title_colour)
    cell = [Paragraph(f"Verdict: {_esc(data.verdict.capitalize())}", title),
            Spacer(1, 2),
            Paragraph(_esc(data.verdict_reason), STYLES["body"])]
    box = Table([[cell]], colWidths=[CONTENT_W], hAlign="LEFT")
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("BOX", (0, 0), (-1, -1), 1.2, border),
        ("LINEBEFORE", (0, 0), (0, -1), 5, border),
        ("LEFTPADDING", (0, 0), (-1, -1), 12),
        ("RIGHTPADDING", (0, 0), (-1, -1), 10),
        ("TOPPADDING", (0, 0), (-1, -1), 8),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return box


def _metrics(data: CandidateReportData) -> list[Flowable]:
    ch, cp = data.challenger, data.champion
    spec: list[tuple[str, str, str]] = [  # label, attribute, better if
        ("AUC", "auc", "higher"),
        ("Gini", "gini", "higher"),
        ("KS", "ks", "higher"),
        ("Brier score", "brier", "lower"),
        ("Log loss", "log_loss", "lower"),
        ("Precision", "precision", "higher"),
        ("Recall", "recall", "higher"),
        (f"F-beta (\u03b2 = {data.beta:g})", "fbeta", "higher"),
        ("Threshold", "threshold", ""),
    ]
    title = Paragraph("Test-sample metrics: champion vs challenger" if cp is not None
                      else "Test-sample metrics: challenger", STYLES["h2"])
    extra: list[tuple[Any, ...]] = []
    if cp is not None:
        rows: list[list[Any]] = [["Metric", "Better if", f"Champion (v{data.champion_version})",
                                  f"Challenger (v{data.version})", "Difference"]]
        for i, (label, attr, better) in enumerate(spec, start=1):
            a, b = float(getattr(cp, attr)), float(getattr(ch, attr))
            diff = b - a
            rows.append([label, better or DASH, fmt4(a), fmt4(b), fmt_diff(diff)])
            if better and fmt_diff(diff) != fmt4(0.0):
                good = (diff > 0) == (better == "higher")
                extra.append(("TEXTCOLOR", (4, i), (4, i), BETTER if good else WORSE))
                extra.append(("FONT", (4, i), (4, i), BOLD, 8.5))
        rows.append(["Evaluation accounts", DASH, fmt_int(cp.n), fmt_int(ch.n), DASH])
        rows.append(["Positive (bad) rate", DASH, fmt_pct(cp.positive_rate), fmt_pct(ch.positive_rate), DASH])
        widths = [44 * mm, 22 * mm, 36 * mm, 36 * mm, CONTENT_W - 138 * mm]
        note = ("Difference = challenger \u2212 champion; green where the challenger "
                "is better, red where it is worse. Gini = 2 \u00d7 AUC \u2212 1.")
    else:
        rows = [["Metric", "Better if", f"Challenger (v{data.version})"]]
        rows += [[label, better or DASH, fmt4(float(getattr(ch, attr)))] for label, attr, better in spec]
        rows.append(["Evaluation accounts", DASH, fmt_int(ch.n)])
        rows.append(["Positive (bad) rate", DASH, fmt_pct(ch.positive_rate)])
        widths = [60 * mm, 30 * mm, 45 * mm]
        note = "First model: no champion to compare, so there is no difference column. Gini = 2 \u00d7 AUC \u2212 1."
    extra.append(("ALIGN", (1, 0), (1, -1), "CENTER"))
    extra.append(("TEXTCOLOR", (1, 1), (1, -1), MUTED))
    return [title, _table(rows, widths, extra=extra), Spacer(1, 3), Paragraph(note, STYLES["small"])]


def _page_summary(data: CandidateReportData) -> list[Flowable]:
    return [
        Paragraph("Candidate model report", STYLES["title"]),
        Paragraph(f"{_esc(data.model_name)} \u00b7 version {_esc(data.version)} \u00b7 dataset "
                  f"{_esc(data.dataset)}", STYLES["subtitle"]),
        Paragraph(f"Prepared for the credit risk committee \u00b7 generated {_esc(data.generated_at)}",
                  STYLES["small"]),
        Spacer(1, 6),
        _Heading("1. Summary", STYLES["h1"]),
        _verdict(data),
        *_identity(data),
        *_samples(data),
        *_metrics(data),
    ]


# ------------------------------------------------------------------------------------------ page 2

ROC_SIZE = (6.6, 3.7)
KS_SIZE = (6.6, 3.3)


def _page_discrimination(data: CandidateReportData) -> list[Flowable]:
    curves: list[tuple[str, Sequence[float], Sequence[float], str]] = []
    ch_roc = data.roc["challenger"]
    curves.append((f"Challenger v{data.version} (AUC {fmt4(data.challenger.auc)})", ch_roc["fpr"], ch_roc["tpr"],
                   charts.colour_for("challenger")))
    cp_roc = data.roc.get("champion")
    if cp_roc is not None:
        auc = f" (AUC {fmt4(data.champion.auc)})" if data.champion is not None else ""
        curves.append((f"Champion v{data.champion_version}{auc}", cp_roc["fpr"], cp_roc["tpr"],
                       charts.colour_for("champion")))
    ks, ks_t = _float(data.ks_curve, "ks"), _float(data.ks_curve, "ks_threshold")
    ks_png = charts.ks_chart(_floats(data.ks_curve, "threshold"), _floats(data.ks_curve, "cum_bad"),
                             _floats(data.ks_curve, "cum_good"), f"KS {fmt4(ks)} at {fmt4(ks_t)}", ks_t,
                             size=KS_SIZE)
    roc_note = (f"AUC: challenger {fmt4(data.challenger.auc)}, champion {fmt4(data.champion.auc)}."
                if data.champion is not None else
                f"AUC: challenger {fmt4(data.challenger.auc)}. First model: no champion curve to compare.")
    return [
        _Heading("2. Discrimination", STYLES["h1"]),
        Paragraph("ROC curve", STYLES["h2"]),
        _image(charts.roc_chart(curves, size=ROC_SIZE), ROC_SIZE),
        Paragraph(roc_note + " The closer a curve runs to the top-left corner, the better the model ranks "
                  "bads above goods.", STYLES["small"]),
        Paragraph("Kolmogorov-Smirnov (KS)", STYLES["h2"]),
        _image(ks_png, KS_SIZE),
        Paragraph(f"KS = {fmt4(ks)} at threshold {fmt4(ks_t)}: the largest gap between the cumulative shares "
                  "of bads and goods, i.e. the threshold where the challenger separates the two best.",
                  STYLES["small"]),
    ]


# ------------------------------------------------------------------------------------------ page 3

CAL_SIZE = (3.2, 3.2)
HIST_SIZE = (6.6, 3.2)


def _page_calibration(data: CandidateReportData) -> list[Flowable]:
    cal = data.calibration
    upper = _nice_upper(max(max(r["mean_p"], r["observed_rate"]) for r in cal))
    cal_png = charts.calibration_chart([r["mean_p"] for r in cal], [r["observed_rate"] for r in cal], upper,
                                       size=CAL_SIZE)
    rows: list[list[Any]] = [["Band", "Accounts", "Min PD", "Max PD", "Mean PD", "Observed"]]
    rows += [[f"{r['band']:g}", fmt_int(r["n"]), fmt_pct(r["min_p"]), fmt_pct(r["max_p"]),
              fmt_pct(r["mean_p"]), fmt_pct(r["observed_rate"])] for r in cal]
    table_w = CONTENT_W - CAL_SIZE[0] * 72 - 4 * mm
    widths = [0.11, 0.19, 0.17, 0.17, 0.17, 0.19]
    table = _table(rows, [w * table_w for w in widths],
                   extra=[("FONT", (0, 1), (-1, -1), SANS, 7.5), ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
                          ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                          ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                          ("ALIGN", (0, 0), (0, -1), "CENTER")])
    side = Table([[_image(cal_png, CAL_SIZE), table]], colWidths=[CAL_SIZE[0] * 72 + 4 * mm, table_w],
                 hAlign="LEFT")
    side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    hist = data.score_histogram
    return [
        _Heading("3. Calibration and score distribution", STYLES["h1"]),
        Paragraph("Calibration by band (test sample)", STYLES["h2"]),
        side,
        Spacer(1, 4),
        Paragraph("Each band groups accounts by predicted PD; a well-calibrated model has observed default rates "
                  "close to the mean predicted PD in every band (points on the dotted diagonal). "
                  "PDs and rates are percentages.", STYLES["small"]),
        Paragraph("Score distribution", STYLES["h2"]),
        _image(charts.score_histogram_chart(hist["edges"], hist["goods"], hist["bads"], size=HIST_SIZE),
               HIST_SIZE),
        Paragraph("Counts of goods (top) and bads (bottom) per score bin; the panels have separate count "
                  "scales. Good separation puts bads at higher predicted PDs than goods.", STYLES["small"]),
    ]


# ------------------------------------------------------------------------------------------ page 4

FI_SIZE = (6.6, 3.6)


def _psi(data: CandidateReportData) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Population stability vs the champion's reference", STYLES["h2"])]
    psi = data.psi_vs_champion
    if psi is None:
        out.append(Paragraph("First model: no champion to compare. Population stability (PSI/CSI) is measured "
                             "against the champion's reference sample, so it starts with the next candidate.",
                             STYLES["body"]))
        return out
    light = _light_cell(psi["score_light"])
    score = Table([["Score PSI", fmt4(float(psi["score_psi"])), light]], colWidths=[30 * mm, 22 * mm, 20 * mm],
                  hAlign="LEFT")
    score.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), BOLD, 9.5), ("ALIGN", (1, 0), (-1, 0), "CENTER"),
        ("BACKGROUND", (2, 0), (2, 0), LIGHTS.get(light, HEADER_BG)), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("BACKGROUND", (0, 0), (1, 0), HEADER_BG), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    out += [
        Paragraph(f"Development sample against the champion's reference (version {_esc(data.champion_version)}). "
                  f"PSI = \u03a3 (a \u2212 e) \u00b7 ln(a / e) over bins, with a and e the development and "
                  f"reference shares; \u03b5 = {data.eps:g} stands in for empty bins so the logarithm stays "
                  f"finite. Thresholds: below {PSI_AMBER:.2f} green (stable), {PSI_AMBER:.2f} to {PSI_RED:.2f} "
                  f"amber (moderate shift, investigate), {PSI_RED:.2f} or more red (significant shift). "
                  "CSI is the same measure on one feature.", STYLES["small"]),
        Spacer(1, 3),
        score,
        Spacer(1, 6),
    ]
    features: dict[str, dict[str, Any]] = psi.get("features", {})
    if not features:
        out.append(Paragraph("No per-feature CSI was supplied.", STYLES["body"]))
        return out
    ordered = sorted(features.items(), key=lambda kv: (-float(kv[1]["csi"]), kv[0]))  # worst first
    groups = 2 if len(ordered) > 12 else 1
    per = math.ceil(len(ordered) / groups)
    rows: list[list[Any]] = [["Feature", "CSI", "Light"] * groups]
    extra: list[tuple[Any, ...]] = []
    for r in range(per):
        row: list[Any] = []
        for g in range(groups):
            i = g * per + r
            if i < len(ordered):
                name, v = ordered[i]
                lt = _light_cell(v["light"])
                row += [Paragraph(_esc(name), STYLES["cell_small"]), fmt4(float(v["csi"])), lt]
                extra.append(("BACKGROUND", (3 * g + 2, r + 1), (3 * g + 2, r + 1), LIGHTS.get(lt, HEADER_BG)))
            else:
                row += ["", "", ""]
        rows.append(row)
    group_w = CONTENT_W / groups
    widths: list[float] = []
    for _ in range(groups):
        widths += [group_w - 31 * mm, 16 * mm, 15 * mm] if groups > 1 else [80 * mm, 22 * mm, 18 * mm]
    extra += [("ALIGN", (3 * g + 2, 0), (3 * g + 2, -1), "CENTER") for g in range(groups)]
    extra += [("ALIGN", (3 * g, 0), (3 * g, -1), "LEFT") for g in range(groups)]
    extra += [("FONT", (0, 1), (-1, -1), SANS, 8), ("TOPPADDING", (0, 0), (-1, -1), 2),
              ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if groups > 1:
        extra.append(("LINEAFTER", (2, 0), (2, -1), 0.8, colors.white))
        extra.append(("LINEBEFORE", (3, 0), (3, -1), 6, colors.white))
    out.append(_table(rows, widths, extra=extra, zebra=False))
    out.append(Spacer(1, 3))
    out.append(Paragraph("Features sorted by CSI, largest shift first.", STYLES["small"]))
    return out


def _page_features(data: CandidateReportData) -> list[Flowable]:
    top = data.feature_importance[:TOP_FEATURES]
    return [
        _Heading("4. Feature importance and population stability", STYLES["h1"]),
        Paragraph("Feature importance", STYLES["h2"]),
        _image(charts.feature_importance_chart(top, size=FI_SIZE), FI_SIZE),
        Paragraph(f"Top {len(top)} of {len(data.feature_importance)} features by gain (total split gain in the "
                  "trained model).", STYLES["small"]),
        *_psi(data),
    ]


# ------------------------------------------------------------------------------------------ page 5


def _swap(data: CandidateReportData) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Swap matrix at the production threshold", STYLES["h2"])]
    swap = data.swap_matrix
    if swap is None:
        out.append(Paragraph("First model: no champion to compare, so there is no swap set; every decision is "
                             "made by the challenger for the first time.", STYLES["body"]))
        return out

    def cell(key: str) -> Paragraph:
        c = swap[key]
        return Paragraph(f"<b>{fmt_int(float(c['n']))}</b> accounts<br/>{fmt_int(float(c['bads']))} bads "
                         f"\u00b7 bad rate {fmt_pct(float(c['bad_rate']))}", STYLES["cell"])

    head = ParagraphStyle("swap_head", parent=STYLES["cell"], fontName=BOLD)
    rows: list[list[Any]] = [
        [Paragraph("Accounts by decision", head), Paragraph(f"Challenger v{_esc(data.version)} approves", head),
         Paragraph(f"Challenger v{_esc(data.version)} declines", head)],
        [Paragraph(f"Champion v{_esc(data.champion_version)} approves", head), cell("approve->approve"),
         cell("approve->decline")],
        [Paragraph(f"Champion v{_esc(data.champion_version)} declines", head), cell("decline->approve"),
         cell("decline->decline")],
    ]
    swap_in_bg, swap_out_bg = colors.HexColor("#E3F0FB"), colors.HexColor("#FFF1DC")
    table = Table(rows, colWidths=[56 * mm, 58 * mm, 58 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("BACKGROUND", (0, 0), (0, -1), HEADER_BG),
        ("BACKGROUND", (2, 1), (2, 1), swap_out_bg),
        ("BACKGROUND", (1, 2), (1, 2), swap_in_bg),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ]))
    out += [
        table,
        Spacer(1, 4),
        Paragraph(f"<b>Swap-in</b> (declined by the champion, approved by the challenger): "
                  f"{fmt_int(float(swap['swap_in']))} accounts. "
                  f"<b>Swap-out</b> (approved by the champion, declined by the challenger): "
                  f"{fmt_int(float(swap['swap_out']))} accounts. Bad rates are the observed default rates of "
                  "each cell; the swap favours the challenger when the swap-out bad rate is well above the "
                  "swap-in bad rate.",
                  STYLES["body"]),
    ]
    return out


def _threshold(data: CandidateReportData) -> list[Flowable]:
    if data.threshold_method == "fbeta":
        weight = ("recall (catching bads) over precision" if data.beta > 1 else
                  "precision over recall (catching bads)" if data.beta < 1 else "precision and recall equally")
        method = f"F-beta maximisation with \u03b2 = {data.beta:g}, which weights {weight}"
    else:
        method = "expected misclassification cost minimisation"
    return [
        Paragraph("Production threshold", STYLES["h2"]),
        Table([["Threshold", fmt4(data.challenger.threshold)], ["Method", Paragraph(_esc(method), STYLES["cell"])]],
              colWidths=[34 * mm, CONTENT_W - 34 * mm], hAlign="LEFT",
              style=TableStyle([("FONT", (0, 0), (0, -1), BOLD, 8.5), ("FONT", (1, 0), (1, 0), BOLD, 10),
                                ("BACKGROUND", (0, 0), (0, -1), HEADER_BG), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                                ("LINEBELOW", (0, 0), (-1, 0), 0.3, RULE), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)])),
        Spacer(1, 4),
        Paragraph(f"<b>Rationale.</b> {_esc(data.threshold_rationale)}", STYLES["body"]),
    ]


def _approval(data: CandidateReportData) -> list[Flowable]:
    items: list[Flowable] = [Paragraph("How to approve", STYLES["h2"])]
    items += [Paragraph(_code_spans(line), STYLES["list"], bulletText=f"{i}.")
              for i, line in enumerate(data.approval_instructions, start=1)]
    sign = Table([["Committee decision", "Name", "Role", "Date", "Signature"],
                  ["\u2610 approve   \u2610 reject", "", "", "", ""],
                  ["", "", "", "", ""]],
                 colWidths=[42 * mm, 38 * mm, 32 * mm, 22 * mm, CONTENT_W - 134 * mm],
                 rowHeights=[None, 22, 22], hAlign="LEFT")
    sign.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), SANS, 8.5), ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG), ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    items += [Spacer(1, 6), KeepTogether([Paragraph("Committee sign-off", STYLES["h2"]), sign])]
    return items


def _page_decision(data: CandidateReportData) -> list[Flowable]:
    return [
        _Heading("5. Decision impact and approval", STYLES["h1"]),
        *_swap(data),
        *_threshold(data),
        *_approval(data),
    ]


# ------------------------------------------------------------------------------------------ document


class _Heading(Paragraph):
    """A section heading that also becomes a PDF outline (bookmark) entry."""


class _Doc(BaseDocTemplate):
    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            text = flowable.getPlainText()
            key = f"s{text.split('.')[0]}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=0)


class _NumberedCanvas(Canvas):
    """Defers each page until the end so its footer can say "Page x of y"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's own page reset, as showPage does

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(SANS, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE_W - MARGIN_X, MARGIN_BOTTOM - 9 * mm, f"Page {self.getPageNumber()} of {total}")
            super().showPage()
        super().save()


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if needed so it fits ``width`` points (page header and footer)."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "\u2026", font, size) > width:
        text = text[:-1]
    return text + "\u2026"


def _decorate(data: CandidateReportData) -> Any:
    left = "Candidate model report \u00b7 credit risk committee"
    suffix = f" \u00b7 version {data.version}"
    footer = f"Generated {data.generated_at} \u00b7 run {data.run_id} \u00b7 dataset {data.dataset}"

    width = PAGE_W - 2 * MARGIN_X
    room = width - pdfmetrics.stringWidth(left, SANS, 8) - pdfmetrics.stringWidth(suffix, BOLD, 8.5) - 8 * mm
    right = _fit(data.model_name, BOLD, 8.5, room) + suffix
    footer = _fit(footer, SANS, 7.5, width - pdfmetrics.stringWidth("Page 99 of 99", SANS, 7.5) - 8 * mm)

    def on_page(canv: Canvas, _doc: BaseDocTemplate) -> None:
        canv.saveState()
        top = PAGE_H - 12 * mm
        canv.setFont(BOLD, 8.5)
        canv.setFillColor(NAVY)
        canv.drawRightString(PAGE_W - MARGIN_X, top, right)
        canv.setFont(SANS, 8)
        canv.setFillColor(MUTED)
        canv.drawString(MARGIN_X, top, left)
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


def render_candidate_report(data: CandidateReportData) -> bytes:
    """The candidate report as PDF bytes; identical data gives identical bytes."""
    _validate(data)
    buf = io.BytesIO()
    doc = _Doc(
        buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, invariant=1,
        title=f"Candidate model report: {data.model_name} version {data.version}",
        author="riskops", subject=f"Candidate model {data.model_name} on {data.dataset}",
        creator="riskops reports", keywords=["credit risk", "model validation", data.dataset],
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, PAGE_W - 2 * MARGIN_X, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
                  leftPadding=FRAME_PAD, rightPadding=FRAME_PAD, topPadding=FRAME_PAD, bottomPadding=FRAME_PAD,
                  id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=_decorate(data))])
    story: list[Flowable] = []
    for i, page in enumerate((_page_summary, _page_discrimination, _page_calibration, _page_features,
                              _page_decision)):
        if i:
            story.append(PageBreak())
        story += page(data)
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


__all__ = ["ModelMetrics", "CandidateReportData", "render_candidate_report", "VERDICTS", "TOP_FEATURES",
           "fmt4", "fmt_pct", "fmt_int", "fmt_diff"]
