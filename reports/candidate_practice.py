"""Pages 5 and 6 of the candidate report: fair lending with the reasons' frequency, and the credit practice
(the monotone features' partial-dependence lines, the scorecard beside the XGBoost model)."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from reports import blocks, charts
from reports.blocks import MetricRow
from reports.candidate_data import CandidateReportData
from reports.document import (
    CONTENT_W,
    SANS,
    STYLES,
    esc,
    fmt4,
    fmt_int,
    fmt_pct,
    heading,
    image,
)
from reports.tables import table

# the ranking metrics both metric tables show (the summary's and the scorecard's)
RANKING_ROWS = (
    MetricRow("AUC", "auc", "higher"),
    MetricRow("AUC 95% interval", "auc_low", difference=False,
              text=lambda m: f"{fmt4(m['auc_low'])}\u2013{fmt4(m['auc_high'])}"),
    MetricRow("Gini", "gini", "higher"),
    MetricRow("KS", "ks", "higher"),
    MetricRow("Brier score", "brier", "lower"),
)

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


def page_fairness(data: CandidateReportData) -> list[Flowable]:
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
    rows = [*RANKING_ROWS, MetricRow("Threshold", "threshold")]
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


def page_credit_practice(data: CandidateReportData) -> list[Flowable]:
    return [heading("6. Monotone constraints and the scorecard challenger"), *_monotone(data), *_scorecard(data)]
