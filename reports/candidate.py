"""Candidate-model PDF report for the credit risk committee.

The caller (``ml``) computes every number, grades every traffic light and chooses the PSI thresholds,
and passes plain data in a :class:`CandidateReportData`; this module only lays it out with
:mod:`reports.document` and :mod:`reports.blocks`. Same data, same PDF bytes.

Layout, A4 portrait, seven pages for typical input (a very long per-feature CSI list, many
calibration bands or a data window that lost days of several kinds can push a section onto an extra page):

1. verdict (with the days missing from the data window, when some are), identity (with the trigger of a
   drift-requested retraining), development samples, champion vs challenger metrics (AUC with its 95% interval)
2. ROC curve and KS chart
3. calibration chart and table (and those of the raw PDs when the model has a calibration map: one page
   more), score distribution of goods and bads
4. feature importance and population stability (PSI/CSI) against the champion's reference
5. fair lending (per attribute and group: approval rate, adverse impact ratio with its interval, default rate,
   mean PD and AUC, champion and challenger side by side; the proxies) and the reasons' frequency
6. the partial-dependence line of each monotone feature (does the spec's direction hold?) and the scorecard
   challenger beside the XGBoost model (AUC with its interval, KS, its calibration by band)
7. swap matrix (each model at its own production threshold), threshold rationale, how to approve, committee
   sign-off

Conventions the caller must follow: rates (``positive_rate``, ``bad_rate``, calibration
probabilities) are fractions in [0, 1]; swap matrix keys read ``"<champion decision>-><challenger
decision>"``; ``feature_importance`` is sorted by gain, descending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from reports import blocks, charts
from reports.blocks import Curve, MetricRow
from reports.document import (
    BOLD,
    CONTENT_W,
    HEADER_BG,
    RULE,
    SANS,
    STYLES,
    Header,
    Metadata,
    code_spans,
    esc,
    fmt4,
    fmt_int,
    fmt_pct,
    heading,
    image,
    pages,
    render,
)
from reports.tables import table

# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ModelMetrics:
    """Test-sample metrics of one model; all plain Python floats (``n`` an int, rates fractions)."""

    auc: float
    auc_low: float  # the AUC's 95% interval (DeLong), computed by the caller
    auc_high: float
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
class FeatureShift:
    """One feature's CSI and its light, as graded by the caller."""

    csi: float
    light: str


@dataclass(frozen=True)
class PsiVsChampion:
    """The development sample on the champion's reference bins: the score's PSI, each feature's CSI, the epsilon
    that floored empty bins and the thresholds the lights were graded with; lights are shown as given."""

    score_psi: float
    score_light: str
    features: dict[str, FeatureShift]
    eps: float
    amber: float
    red: float


@dataclass(frozen=True)
class SwapCell:
    n: int
    bads: int
    bad_rate: float


@dataclass(frozen=True)
class SwapMatrix:
    """Accounts by the champion's decision (first) and the challenger's, each at its own production threshold;
    swap-in: declined by the champion and approved by the challenger, swap-out the other way."""

    approve_approve: SwapCell
    approve_decline: SwapCell
    decline_approve: SwapCell
    decline_decline: SwapCell

    @property
    def swap_in(self) -> int:
        return self.decline_approve.n

    @property
    def swap_out(self) -> int:
        return self.approve_decline.n

    def cells(self) -> dict[str, dict[str, float]]:
        """The cells as `reports.blocks.swap_matrix` takes them ("approve->decline": {n, bads, bad_rate})."""
        return {f"{row}->{column}": dataclasses.asdict(getattr(self, f"{row}_{column}"))
                for row in ("approve", "decline") for column in ("approve", "decline")}


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
    # {"train": {"n": .., "positives": .. (optional), "positive_rate": ..}, "valid": .., "test": ..}
    sample_sizes: dict[str, dict[str, float]]
    verdict: str  # shown as given ("recommended" / "not recommended", ml.model.verdict)
    verdict_reason: str
    recommended: bool  # the verdict box is green when true, red otherwise
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
    psi_vs_champion: PsiVsChampion | None  # None on the first model
    swap_matrix: SwapMatrix | None  # None on the first model
    approval_instructions: list[str]  # how to approve (Airflow UI path, CLI command); `backticks` set in mono
    generated_at: str  # ISO timestamp given by the caller (the report never reads the clock)
    # a calibrated model: the calibration rows of its raw PDs (before the map) and the map's method
    calibration_before: list[dict[str, float]] | None = None
    calibration_method: str | None = None
    # features the model takes, used or not (feature_importance may hold only the top ones); None: its length
    feature_count: int | None = None
    trigger: str | None = None  # why this retraining ran when monitoring requested it (drift); None: scheduled/manual
    # what the data window lost (days not preprocessed, failed or fully quarantined), one sentence each
    window_gaps: list[str] = dataclasses.field(default_factory=list)
    # fair lending and reasons (ml.model.fairness_review.Review.to_dict): min_ratio, min_group_rows,
    # min_group_bads, challenger / champion (per attribute, its groups as ml.fairness.GroupRow dicts, the
    # reference first; champion None on the first model), proxies ({attribute: [{feature, cramers_v,
    # mutual_information}]}), below (lines), reasons ([{code, text, first, any, first_share, any_share}]),
    # reasons_from_spec, explained_rows; None: a report without the page
    fairness: dict[str, Any] | None = None
    # the current champion's line of the champion history (who promoted it when, why, report hash; halted?)
    champion_line: str | None = None
    # the partial-dependence line of each monotone feature (ml.model.partial_dependence.MonotoneCheck dicts:
    # feature, direction, grid, pd, holds); empty: the spec constrains no feature
    monotone: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # the scorecard beside the XGBoost model (ml.model.scorecard_review.Review.to_dict): candidate, xgboost and
    # scorecard metrics (ModelMetrics keys), their calibration rows, gain (difference, se, low, high: XGBoost's AUC
    # minus the scorecard's), points, information_value; None: a report without it
    scorecard: dict[str, Any] | None = None
    algorithm: str = "xgboost"  # the candidate's: xgboost | scorecard


TOP_FEATURES = 15

VERDICT_STYLE = {  # recommended -> background, border, title colour
    True: (colors.HexColor("#EAF6EC"), colors.HexColor("#2E7D32"), colors.HexColor("#1B5E20")),
    False: (colors.HexColor("#FDEEEC"), colors.HexColor("#C0392B"), colors.HexColor("#9B2C1F")),
}

# ------------------------------------------------------------------------------------------- checks


def _validate(data: CandidateReportData) -> None:
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
    if (data.calibration_before is None) != (data.calibration_method is None):
        raise ValueError("calibration_before and calibration_method must both be given or both be None")


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


# ------------------------------------------------------------------------------------------ page 1


def _identity(data: CandidateReportData) -> list[Flowable]:
    champion = (f"version {data.champion_version} (current production model)"
                if data.champion_version is not None else "none: first model for this dataset")
    if data.champion_line:
        champion = f"{champion}; {data.champion_line}"
    pairs = [
        ("Model name", data.model_name),
        ("Version", f"{data.version} ({_ALGORITHM_LONG.get(data.algorithm, data.algorithm)})"),
        ("MLflow run ID", data.run_id),
        ("Dataset", data.dataset),
        ("As-of date", data.as_of),
        ("Data window", f"{data.data_window[0]} to {data.data_window[1]}"),
        ("Data hash", data.data_hash),
        ("Champion", champion),
        ("Trigger", f"drift found by stability monitoring: {data.trigger}" if data.trigger
         else "scheduled or manual retraining"),
    ]
    return [Paragraph("Model identity", STYLES["h2"]),
            blocks.key_value_table(pairs, mono=("MLflow run ID", "Data hash"))]


_ALGORITHM_LONG = {"xgboost": "XGBoost, gradient-boosted trees",
                   "scorecard": "scorecard, weight-of-evidence bins and a logistic regression"}
_SAMPLE_LABELS = {"train": "Train", "valid": "Validation", "validation": "Validation", "test": "Test"}


def _samples(data: CandidateReportData) -> list[Flowable]:
    order: list[str] = [k for k in ("train", "valid", "validation", "test") if k in data.sample_sizes]
    order += [k for k in data.sample_sizes if k not in order]
    rows: list[list[Any]] = [["Sample", "Accounts", "Positives (bads)", "Positive (bad) rate"]]
    for k in order:
        size = data.sample_sizes[k]
        positives = size.get("positives")
        rows.append([_SAMPLE_LABELS.get(k, k), fmt_int(size["n"]),
                     fmt_int(positives) if positives is not None else "\u2013", fmt_pct(size["positive_rate"])])
    return [Paragraph("Development samples", STYLES["h2"]),
            table(rows, [50 * mm, 35 * mm, 35 * mm, 40 * mm])]


def _verdict(data: CandidateReportData) -> Flowable:
    background, border, title_colour = VERDICT_STYLE[bool(data.recommended)]
    title = ParagraphStyle("verdict_c", parent=STYLES["verdict"], textColor=title_colour)
    cell = [Paragraph(f"Verdict: {esc(data.verdict.capitalize())}", title),
            Spacer(1, 2),
            Paragraph(esc(data.verdict_reason), STYLES["body"])]
    # what the data window lost goes with the verdict: a model trained on half a window must say so up front
    cell += [Paragraph(f"<b>Data window incomplete:</b> {esc(gap)}.", STYLES["body"]) for gap in data.window_gaps]
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


# the ranking and calibration rows every model comparison of the report opens with
_RANKING_ROWS = (
    MetricRow("AUC", "auc", "higher"),
    MetricRow("AUC 95% interval", "auc_low", difference=False,
              text=lambda m: f"{fmt4(m['auc_low'])}\u2013{fmt4(m['auc_high'])}"),
    MetricRow("Gini", "gini", "higher"),
    MetricRow("KS", "ks", "higher"),
    MetricRow("Brier score", "brier", "lower"),
)


def _metrics(data: CandidateReportData) -> list[Flowable]:
    rows = [
        *_RANKING_ROWS,
        MetricRow("Log loss", "log_loss", "lower"),
        MetricRow("Precision", "precision", "higher"),
        MetricRow("Recall", "recall", "higher"),
        MetricRow(f"F-beta (\u03b2 = {data.beta:g})", "fbeta", "higher"),
        MetricRow("Threshold", "threshold"),
        MetricRow("Evaluation accounts", "n", fmt=fmt_int, difference=False),
        MetricRow("Positive (bad) rate", "positive_rate", fmt=fmt_pct, difference=False),
    ]
    challenger = (f"Challenger (v{data.version})", dataclasses.asdict(data.challenger))
    if data.champion is not None:
        champion = (f"Champion (v{data.champion_version})", dataclasses.asdict(data.champion))
        title = "Test-sample metrics: champion vs challenger"
        metrics = blocks.metrics_table([champion, challenger], rows, difference=True,
                                       widths=[44 * mm, 22 * mm, 36 * mm, 36 * mm, CONTENT_W - 138 * mm])
        note = ("Difference = challenger \u2212 champion; green where the challenger "
                "is better, red where it is worse. Gini = 2 \u00d7 AUC \u2212 1. " + _INTERVAL)
    else:
        title = "Test-sample metrics: challenger"
        metrics = blocks.metrics_table([challenger], rows, widths=[60 * mm, 30 * mm, 45 * mm])
        note = ("First model: no champion to compare, so there is no difference column. Gini = 2 \u00d7 AUC "
                "\u2212 1. " + _INTERVAL)
    return [Paragraph(title, STYLES["h2"]), metrics, Spacer(1, 3), Paragraph(note, STYLES["small"])]


_INTERVAL = "AUC interval: DeLong's, narrower with more test rows and bads; the verdict weighs it."


def _auc(m: ModelMetrics) -> str:
    return f"AUC {fmt4(m.auc)} [{fmt4(m.auc_low)}, {fmt4(m.auc_high)}]"


def _page_summary(data: CandidateReportData) -> list[Flowable]:
    return [
        Paragraph("Candidate model report", STYLES["title"]),
        Paragraph(f"{esc(data.model_name)} \u00b7 version {esc(data.version)} \u00b7 dataset "
                  f"{esc(data.dataset)}", STYLES["subtitle"]),
        Paragraph(f"Prepared for the credit risk committee \u00b7 generated {esc(data.generated_at)}",
                  STYLES["small"]),
        Spacer(1, 6),
        heading("1. Summary"),
        _verdict(data),
        *_identity(data),
        *_samples(data),
        *_metrics(data),
    ]


# ------------------------------------------------------------------------------------------ page 2


def _page_discrimination(data: CandidateReportData) -> list[Flowable]:
    ch_roc = data.roc["challenger"]
    curves: list[Curve] = [(f"Challenger v{data.version} ({_auc(data.challenger)})", ch_roc["fpr"],
                            ch_roc["tpr"], charts.colour_for("challenger"))]
    cp_roc = data.roc.get("champion")
    if cp_roc is not None:
        auc = f" ({_auc(data.champion)})" if data.champion is not None else ""
        curves.append((f"Champion v{data.champion_version}{auc}", cp_roc["fpr"], cp_roc["tpr"],
                       charts.colour_for("champion")))
    ks, ks_t = _float(data.ks_curve, "ks"), _float(data.ks_curve, "ks_threshold")
    roc_note = (f"Challenger {_auc(data.challenger)}, champion {_auc(data.champion)} (95% intervals, DeLong)."
                if data.champion is not None else
                f"Challenger {_auc(data.challenger)} (95% interval, DeLong). First model: no champion curve to "
                "compare.")
    return [
        heading("2. Discrimination"),
        Paragraph("ROC curve", STYLES["h2"]),
        blocks.roc_chart(curves, "ROC curve (test sample)"),
        Paragraph(roc_note + " The closer a curve runs to the top-left corner, the better the model ranks "
                  "bads above goods.", STYLES["small"]),
        Paragraph("Kolmogorov-Smirnov (KS)", STYLES["h2"]),
        blocks.ks_chart(_floats(data.ks_curve, "threshold"), _floats(data.ks_curve, "cum_bad"),
                        _floats(data.ks_curve, "cum_good"), ks, ks_t, "Kolmogorov-Smirnov separation (test sample)"),
        Paragraph(f"KS = {fmt4(ks)} at threshold {fmt4(ks_t)}: the largest gap between the cumulative shares "
                  "of bads and goods, i.e. the threshold where the challenger separates the two best.",
                  STYLES["small"]),
    ]


# ------------------------------------------------------------------------------------------ page 3


def _calibration_map(data: CandidateReportData) -> list[Flowable]:
    if data.calibration_before is None:
        return []
    return [
        Paragraph(f"Before the calibration map ({esc(data.calibration_method)}, fitted on the validation sample)",
                  STYLES["h2"]),
        blocks.calibration(data.calibration_before, "Raw PDs, before the map", pd_range=True),
        Spacer(1, 4),
        Paragraph("The model was trained with weights that move its raw probabilities away from default rates, so "
                  "a calibration map fitted on the validation sample turns them into the PDs above, which scoring, "
                  "monitoring and the label-free estimate use. Above: after the map; here: the raw PDs.",
                  STYLES["small"]),
    ]


def _page_calibration(data: CandidateReportData) -> list[Flowable]:
    hist = data.score_histogram
    after = " (after the calibration map)" if data.calibration_before is not None else ""
    return [
        heading("3. Calibration and score distribution"),
        Paragraph(f"Calibration by band (test sample){after}", STYLES["h2"]),
        blocks.calibration(data.calibration, "Calibration by band", pd_range=True),
        Spacer(1, 4),
        Paragraph("Each band groups accounts by predicted PD; a well-calibrated model has observed default rates "
                  "close to the mean predicted PD in every band (points on the dotted diagonal). "
                  "PDs and rates are percentages.", STYLES["small"]),
        *_calibration_map(data),
        Paragraph("Score distribution", STYLES["h2"]),
        blocks.score_distribution_chart(hist["edges"], hist["goods"], hist["bads"],
                                        "Score distribution, goods vs bads (test sample)"),
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
    ordered = sorted(psi.features.items(), key=lambda kv: (-kv[1].csi, kv[0]))  # worst first
    out += blocks.psi_table(
        [(name, float(v.csi), v.light) for name, v in ordered], eps=float(psi.eps), amber=float(psi.amber),
        red=float(psi.red), intro=f"Development sample against the champion's reference (version "
                                  f"{data.champion_version}).",
        actual="development", summary=("Score PSI", float(psi.score_psi), psi.score_light))
    if psi.features:
        out += [Spacer(1, 3), Paragraph("Features sorted by CSI, largest shift first.", STYLES["small"])]
    else:
        out.append(Paragraph("No per-feature CSI was supplied.", STYLES["body"]))
    return out


def _page_features(data: CandidateReportData) -> list[Flowable]:
    top = data.feature_importance[:TOP_FEATURES]
    return [
        heading("4. Feature importance and population stability"),
        Paragraph("Feature importance", STYLES["h2"]),
        image(charts.feature_importance_chart(top, size=FI_SIZE), FI_SIZE),
        Paragraph(f"Top {len(top)} of {data.feature_count or len(data.feature_importance)} features by gain "
                  "(total split gain in the trained model).", STYLES["small"]),
        *_psi(data),
    ]


# ------------------------------------------------------------------------------------------ page 5


def _attribute(data: CandidateReportData, i: int, groups: list[dict[str, Any]]) -> list[Flowable]:
    fair = data.fairness or {}
    first = groups[0]
    champion = (fair.get("champion") or [None] * (i + 1))[i]
    names = (f"v{data.champion_version}", f"v{data.version}")  # the page says which is which
    out: list[Flowable] = [
        Paragraph(esc(f"{first['attribute']} ({first['kind']})"), STYLES["h2"]),
        blocks.fairness_table(groups, outcomes=True, auc=True, against=champion, names=names),
    ]
    proxies = (fair.get("proxies") or {}).get(first["attribute"]) or []
    if proxies:
        listed = ", ".join(f"{esc(p['feature'])} (V {p['cramers_v']:.2f}, MI {p['mutual_information']:.3f})"
                           for p in proxies)
        out.append(Paragraph(f"<b>Proxies</b>, the model features most associated with {esc(first['attribute'])} on "
                             f"the development sample (Cram\u00e9r's V, mutual information in nats): {listed}.",
                             STYLES["small"]))
    return out


def _reasons(data: CandidateReportData) -> list[Flowable]:
    fair = data.fairness or {}
    out: list[Flowable] = [Paragraph("Reasons given on the test sample", STYLES["h2"])]
    if not fair.get("reasons_from_spec"):
        out.append(Paragraph("<b>The spec has no reason statements</b>: the reasons below are the model's feature "
                             "names, not texts a customer can read.", STYLES["body"]))
    reasons = fair.get("reasons") or []
    if not reasons:
        return out + [Paragraph("No test row was explained (no adverse decision).", STYLES["body"])]
    rows: list[list[Any]] = [["Code", "Statement", "First reason", "Among the reasons"]]
    for r in reasons:
        rows.append([r["code"], r["text"], f"{fmt_pct(r['first_share'])} ({fmt_int(r['first'])})",
                     f"{fmt_pct(r['any_share'])} ({fmt_int(r['any'])})"])
    out += [table(rows, [28 * mm, CONTENT_W - 88 * mm, 30 * mm, 30 * mm],
                  extra=[("FONT", (0, 1), (-1, -1), SANS, 7.5), ("ALIGN", (1, 0), (1, -1), "LEFT")]),
            Paragraph(f"Shares of the {fmt_int(fair.get('explained_rows', 0))} test rows the challenger would "
                      "decline or refer (those given reasons): as the first reason, and among the up to four "
                      "reasons of a row. A feature with no statement, and a protected attribute, is never a "
                      "reason.", STYLES["small"])]
    return out


def _page_fairness(data: CandidateReportData) -> list[Flowable]:
    fair = data.fairness
    out: list[Flowable] = [heading("5. Fair lending and reasons")]
    if fair is None:
        return out + [Paragraph("Not computed for this candidate.", STYLES["body"])]
    out.append(Paragraph(
        f"Per attribute and group on the out-of-time test, each model deciding as in production (its threshold, "
        f"the spec's cut-offs and hard rules): rows, approval rate (\u201capprove\u201d decisions), adverse impact "
        f"ratio (AIR: the group's approval rate over the reference group's) with its 95% interval (Katz's log "
        f"interval), default rate and mean PD, and the challenger's AUC where the group has at least "
        f"{fair['min_group_bads']} bads and goods. AIR below {fair['min_ratio']:g} is red, and a red group of the "
        f"challenger decides its verdict against it (page 1); a group (or reference) with fewer than "
        f"{fair['min_group_rows']} rows is not judged." + (
            f" Columns v{data.champion_version}: the champion; v{data.version}: the challenger."
            if data.champion_version is not None else ""), STYLES["small"]))
    attributes = fair.get("challenger") or []
    if not attributes:
        out.append(Paragraph("The spec declares no protected or monitored attribute (fairness.attributes).",
                             STYLES["body"]))
    for i, groups in enumerate(attributes):
        out += _attribute(data, i, groups)
    if fair.get("below"):
        out.append(Paragraph("<b>Below the minimum ratio:</b> " + esc("; ".join(fair["below"])) + ".",
                             STYLES["body"]))
    return out + _reasons(data)


# ------------------------------------------------------------------------------------------ page 6

_ALGORITHM = {"xgboost": "XGBoost", "scorecard": "Scorecard"}


def _monotone(data: CandidateReportData) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Monotone constraints", STYLES["h2"])]
    if not data.monotone:
        return out + [Paragraph("The spec constrains no feature (a column's <b>monotone</b> key).", STYLES["body"])]
    broken = [c["feature"] for c in data.monotone if not c["holds"]]
    panels = [(f"{c['feature']} ({c['direction']}: {'holds' if c['holds'] else 'does NOT hold'})", c["grid"],
               c["pd"], bool(c["holds"])) for c in data.monotone]
    size = (6.6, 1.7 * -(-len(panels) // 2) + 0.2)
    verdict = (f"<b>The direction does not hold for {esc(', '.join(broken))}.</b>" if broken else
               "The direction holds for every constrained feature.")
    return out + [
        image(charts.partial_dependence_chart(panels), size),
        Paragraph(f"Partial dependence of the candidate: its mean PD over the development sample (up to 2,000 rows) "
                  f"as each constrained feature is set to each value of a grid (its 1st to 99th percentiles), every "
                  f"other feature left as it is. The spec says which way the PD must go as the feature grows, and "
                  f"training held the model to it. {verdict}", STYLES["small"]),
    ]


def _scorecard(data: CandidateReportData) -> list[Flowable]:
    card = data.scorecard
    out: list[Flowable] = [Paragraph("Scorecard challenger", STYLES["h2"])]
    if card is None:
        return out + [Paragraph("Not computed for this candidate.", STYLES["body"])]
    rows = [*_RANKING_ROWS, MetricRow("Threshold", "threshold")]
    candidate = card["candidate"]
    names = {k: f"{_ALGORITHM[k]}{' (candidate)' if k == candidate else ''}" for k in ("scorecard", "xgboost")}
    gain = card["gain"]
    features = len(card["information_value"])
    out += [
        blocks.metrics_table([(names["scorecard"], card["scorecard"]), (names["xgboost"], card["xgboost"])], rows,
                             difference=True, widths=[44 * mm, 22 * mm, 36 * mm, 36 * mm, CONTENT_W - 138 * mm]),
        Spacer(1, 3),
        Paragraph(f"Both trained on the same development sample and judged on the same out-of-time test. The "
                  f"scorecard: each of the {features} features cut into at most 10 bins of its train-sample quantiles "
                  f"(at least 5% of the rows each; missing values a bin of their own; pooled where the weight of "
                  f"evidence went against the spec's monotone direction), the bins' weight of evidence fed to a "
                  f"logistic regression (scikit-learn). XGBoost minus scorecard AUC: {fmt4(gain['difference'])} "
                  f"[{fmt4(gain['low'])}, {fmt4(gain['high'])}] (DeLong, paired). Its points table "
                  f"({fmt_int(len(card['points']))} bins, on the policy's score scale) is in candidate.json and the "
                  f"technical file.", STYLES["small"]),
        blocks.calibration(card["scorecard_calibration"], "Scorecard calibration by band", pd_range=True,
                           size=(2.6, 2.6)),
    ]
    return out


def _page_credit_practice(data: CandidateReportData) -> list[Flowable]:
    return [heading("6. Monotone constraints and the scorecard challenger"), *_monotone(data), *_scorecard(data)]


# ------------------------------------------------------------------------------------------ page 7


def _swap(data: CandidateReportData) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Swap matrix: each model at its own production threshold", STYLES["h2"])]
    swap = data.swap_matrix
    if swap is None or data.champion is None:
        out.append(Paragraph("First model: no champion to compare, so there is no swap set; every decision is "
                             "made by the challenger for the first time.", STYLES["body"]))
        return out

    matrix = blocks.swap_matrix(
        swap.cells(), (f"Champion v{data.champion_version} approves", f"Champion v{data.champion_version} declines"),
        (f"Challenger v{data.version} approves", f"Challenger v{data.version} declines"))
    out += [
        Paragraph(f"Champion v{esc(str(data.champion_version))} decides at its production threshold "
                  f"<b>{fmt4(data.champion.threshold)}</b> (what production decides today), challenger "
                  f"v{esc(data.version)} at its own, <b>{fmt4(data.challenger.threshold)}</b> (what production "
                  "would decide once it is promoted), on the same out-of-time test rows.", STYLES["body"]),
        Spacer(1, 4),
        matrix,
        Spacer(1, 4),
        Paragraph(f"<b>Swap-in</b> (declined by the champion, approved by the challenger): "
                  f"{fmt_int(float(swap.swap_in))} accounts. "
                  f"<b>Swap-out</b> (approved by the champion, declined by the challenger): "
                  f"{fmt_int(float(swap.swap_out))} accounts. Bad rates are the observed default rates of "
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
        Paragraph(f"Challenger v{esc(data.version)}'s production threshold", STYLES["h2"]),
        table([["Threshold", fmt4(data.challenger.threshold)], ["Method", method]], [34 * mm, CONTENT_W - 34 * mm],
              header=False, zebra=False, align_right_from=None,
              extra=[("FONT", (0, 0), (0, -1), BOLD, 8.5), ("FONT", (1, 0), (1, 0), BOLD, 10),
                     ("BACKGROUND", (0, 0), (0, -1), HEADER_BG), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                     ("LINEBELOW", (0, 0), (-1, 0), 0.3, RULE), ("TOPPADDING", (0, 0), (-1, -1), 4),
                     ("BOTTOMPADDING", (0, 0), (-1, -1), 4), ("LEFTPADDING", (0, 0), (-1, -1), 6),
                     ("RIGHTPADDING", (0, 0), (-1, -1), 6)]),
        Spacer(1, 4),
        Paragraph(f"<b>Rationale.</b> {esc(data.threshold_rationale)}", STYLES["body"]),
    ]


def _approval(data: CandidateReportData) -> list[Flowable]:
    items: list[Flowable] = [Paragraph("How to approve", STYLES["h2"])]
    items += [Paragraph(code_spans(line), STYLES["list"], bulletText=f"{i}.")
              for i, line in enumerate(data.approval_instructions, start=1)]
    sign = table([["Committee decision", "Name", "Role", "Date", "Signature"],
                  ["\u2610 approve   \u2610 reject", "", "", "", ""],
                  ["", "", "", "", ""]],
                 [42 * mm, 38 * mm, 32 * mm, 22 * mm, CONTENT_W - 134 * mm], heights=[None, 22, 22], zebra=False,
                 align_right_from=None, extra=[("GRID", (0, 0), (-1, -1), 0.5, RULE),
                                               ("LEFTPADDING", (0, 0), (-1, -1), 6),
                                               ("RIGHTPADDING", (0, 0), (-1, -1), 6)])
    items += [Spacer(1, 6), KeepTogether([Paragraph("Committee sign-off", STYLES["h2"]), sign])]
    return items


def _page_decision(data: CandidateReportData) -> list[Flowable]:
    return [
        heading("7. Decision impact and approval"),
        *_swap(data),
        *_threshold(data),
        *_approval(data),
    ]


# ------------------------------------------------------------------------------------------ document


def render_candidate_report(data: CandidateReportData) -> bytes:
    """The candidate report as PDF bytes; identical data gives identical bytes."""
    _validate(data)
    story = pages(data, _page_summary, _page_discrimination, _page_calibration, _page_features, _page_fairness,
                  _page_credit_practice, _page_decision)
    metadata = Metadata(title=f"Candidate model report: {data.model_name} version {data.version}",
                        subject=f"Candidate model {data.model_name} on {data.dataset}",
                        keywords=("credit risk", "model validation", data.dataset))
    header = Header(title="Candidate model report \u00b7 credit risk committee", identity=data.model_name,
                    identity_suffix=f" \u00b7 version {data.version}",
                    # the dataset first: the footer is cut at its end to fit, and the run id can lose its tail
                    footer=f"Dataset {data.dataset} \u00b7 generated {data.generated_at} \u00b7 run {data.run_id}")
    return render(story, metadata, header)


__all__ = ["ModelMetrics", "CandidateReportData", "render_candidate_report", "TOP_FEATURES"]
