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

The data classes are in :mod:`reports.candidate_data`, pages 5 and 6 in :mod:`reports.candidate_practice`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from reports import blocks, charts
from reports.blocks import Curve, MetricRow
from reports.candidate_data import (
    CandidateReportData,
    FeatureShift,
    ModelMetrics,
    PsiVsChampion,
    SwapCell,
    SwapMatrix,
)
from reports.candidate_practice import RANKING_ROWS, page_credit_practice, page_fairness
from reports.document import (
    BOLD,
    CONTENT_W,
    HEADER_BG,
    RULE,
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

__all__ = ["CandidateReportData", "FeatureShift", "ModelMetrics", "PsiVsChampion", "SwapCell", "SwapMatrix",
           "render_candidate_report"]

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
def _metrics(data: CandidateReportData) -> list[Flowable]:
    rows = [
        *RANKING_ROWS,
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
    story = pages(data, _page_summary, _page_discrimination, _page_calibration, _page_features, page_fairness,
                  page_credit_practice, _page_decision)
    metadata = Metadata(title=f"Candidate model report: {data.model_name} version {data.version}",
                        subject=f"Candidate model {data.model_name} on {data.dataset}",
                        keywords=("credit risk", "model validation", data.dataset))
    header = Header(title="Candidate model report \u00b7 credit risk committee", identity=data.model_name,
                    identity_suffix=f" \u00b7 version {data.version}",
                    # the dataset first: the footer is cut at its end to fit, and the run id can lose its tail
                    footer=f"Dataset {data.dataset} \u00b7 generated {data.generated_at} \u00b7 run {data.run_id}")
    return render(story, metadata, header)


__all__ = ["ModelMetrics", "CandidateReportData", "render_candidate_report", "TOP_FEATURES"]
