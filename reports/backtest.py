"""Weekly backtest PDF for the risk team.

The caller (``ml``) computes every number and takes every test decision, and passes plain data in a
:class:`BacktestReportData`; this module lays it out with :mod:`reports.document` and :mod:`reports.blocks`.
Same data, same PDF bytes.

Sections (A4 portrait, about seven pages):

1. summary: alerts, window, realised performance per model version over the window, and discrimination
   and concentration against the development sample
2. weeks: rows and results per week and version; trends of AUC with its 95 % confidence interval, KS,
   observed default rate against mean PD
3. calibration by score band per version: chart and table with Jeffreys p-values, Hosmer-Lemeshow, rank
   ordering, concentration by band
4. the label-free estimate: estimate against realised by week, and the weeks still unmatured
5. score percentiles by day
6. the shadow challenger: side by side and its swap sets
7. fair lending: per attribute and group, approval rate and adverse impact ratio, default rate against mean PD and
   the approved book's bad rate over the window, and the ratios and default rates by week
8. the reviewers' decisions: per band and overall, the share of the rows sent to review that a reviewer decided,
   the override rate against the model's suggestion, and the default rates of reviewer- and policy-approved rows

Conventions: rates are fractions; NaN or None shows as a dash; a week row holds ``performance`` (None
without matured rows) and ``estimate`` as produced by ``ml.monitor.backtest``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from reports import blocks
from reports.backtest_data import BacktestReportData as BacktestReportData
from reports.blocks import Column, MetricRow
from reports.document import (
    BOLD,
    CONTENT_W,
    DASH,
    SANS,
    STYLES,
    Header,
    Metadata,
    esc,
    fmt4,
    fmt_diff,
    fmt_int,
    fmt_pct,
    heading,
    pages,
    render,
)
from reports.tables import table

# the report's input lives in reports/backtest_data.py; callers import it from here too

CHART = (6.6, 2.6)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _show(fmt: Callable[[float], str]) -> Callable[[Any], str]:
    """``fmt`` for a number, a dash for NaN or None."""
    return lambda v: DASH if _missing(v) else fmt(float(v))


f4, pct, count = _show(fmt4), _show(fmt_pct), _show(fmt_int)


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _interval(value: Any, low: Any, high: Any, fmt: Callable[[Any], str] = f4) -> str:
    return DASH if _missing(value) else f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def _small_table(rows: list[list[Any]], widths: Sequence[float], extra: Sequence[tuple[Any, ...]] = ()) -> Flowable:
    """A table in 7.5 pt (first column left, the others right, as the numbers)."""
    return table(rows, widths, extra=[
        ("FONT", (0, 0), (-1, 0), BOLD, 7.5, 9), ("FONT", (0, 1), (-1, -1), SANS, 7.5), ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3), *extra])


# ------------------------------------------------------------------------------------------ summary


def _alerts(data: BacktestReportData) -> Flowable:
    if data.alerts:
        title, background, border = (f"{len(data.alerts)} alert(s) for the risk team",
                                      colors.HexColor("#FDEEEC"), colors.HexColor("#C0392B"))
        lines = [Paragraph(esc(a), STYLES["list"], bulletText="\u2022") for a in data.alerts]
    else:
        title, background, border = ("No alerts", colors.HexColor("#EAF6EC"), colors.HexColor("#2E7D32"))
        lines = [Paragraph("No significant AUC drop, no more Jeffreys rejections than allowed, no rank-order "
                           "inversion.", STYLES["body"])]
    box = Table([[[Paragraph(esc(title), STYLES["verdict"]), Spacer(1, 2), *lines]]], colWidths=[CONTENT_W],
                hAlign="LEFT")
    box.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), background), ("BOX", (0, 0), (-1, -1), 1.2, border),
                             ("LINEBEFORE", (0, 0), (0, -1), 5, border), ("LEFTPADDING", (0, 0), (-1, -1), 12),
                             ("TOPPADDING", (0, 0), (-1, -1), 7), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return box


def _span(weeks: list[str]) -> str:
    return f"{weeks[0]} to {weeks[-1]} ({len(weeks)} weeks)" if weeks else DASH


def _identity(data: BacktestReportData) -> list[Flowable]:
    versions = ", ".join(sorted({str(w["version"]) for w in data.weeks})) or DASH
    pairs = [
        ("Model", data.model_name), ("Versions that scored", versions),
        ("Champion now", data.champion_line or "none promoted yet"), ("Dataset", data.dataset),
        ("As-of date", data.as_of),
        ("Maturity", f"{data.maturity_lag_days} days: outcomes of applications up to {data.last_matured_day} "
                     "are known"),
        ("Judged weeks", _span(data.judged_weeks)), ("Estimated weeks", _span(data.estimated_weeks)),
    ]
    out: list[Flowable] = [Paragraph("Backtest window", STYLES["h2"]), blocks.key_value_table(pairs)]
    out += [Paragraph(esc(n), STYLES["small"]) for n in data.notes]
    return out


def _weeks_table(data: BacktestReportData) -> list[Flowable]:
    if not data.weeks:
        return []
    rows: list[list[Any]] = [["Week", "Version", "Scored", "Matured", "Not matured", "Default rate", "Mean PD",
                              "AUC [95% CI]", "Estimated AUC [95% CI]"]]
    for w in data.weeks:
        perf, est = w["performance"] or {}, w["estimate"]
        rows.append([w["week"], w["version"], count(w["rows_scored"]), count(w["rows_matured"]),
                     count(w["rows_unmatured"]), pct(perf.get("default_rate")), pct(perf.get("mean_pd")),
                     _interval(perf.get("auc"), perf.get("auc_low"), perf.get("auc_high")),
                     _interval(est["expected_auc"], est["auc_low"], est["auc_high"])])
    widths = [15 * mm, 14 * mm, 14 * mm, 15 * mm, 15 * mm, 14 * mm, 13 * mm]
    widths += [(CONTENT_W - sum(widths)) / 2] * 2
    return [Paragraph("Rows and results by week", STYLES["h2"]), _small_table(rows, widths),
            Spacer(1, 2),
            Paragraph("Rows not matured yet are counted and kept out of every realised number; the estimated AUC "
                      "needs no outcomes and covers all the week's scored rows (section 4).", STYLES["small"])]


_METRICS = [
    MetricRow("Matured accounts", "rows", fmt=fmt_int, difference=False),
    MetricRow("Observed default rate", "default_rate", fmt=fmt_pct, difference=False),
    MetricRow("Mean PD", "mean_pd", fmt=fmt_pct, difference=False),
    MetricRow("AUC", "auc", "higher"), MetricRow("Gini", "gini", "higher"), MetricRow("KS", "ks", "higher"),
    MetricRow("Brier score", "brier", "lower"), MetricRow("Log loss", "log_loss", "lower"),
    MetricRow("Threshold", "threshold"), MetricRow("Precision", "precision", "higher"),
    MetricRow("Recall", "recall", "higher"), MetricRow("F-beta", "fbeta", "higher"),
    MetricRow("Approval rate", "approval_rate", fmt=fmt_pct, difference=False),
    MetricRow("Default rate among approved", "approved_default_rate", "lower", fmt=fmt_pct),
]


def _window(data: BacktestReportData) -> list[Flowable]:
    if not data.versions:
        return [Paragraph("Realised performance", STYLES["h2"]),
                Paragraph("No matured rows in the judged weeks: nothing to judge yet.", STYLES["body"])]
    columns = [(f"v{v['version']} ({len(v['weeks'])} wk)",
                {k: _nan(x) for k, x in v["performance"].items()}) for v in data.versions]
    rows = [MetricRow(r.label, r.key, r.better, _show(r.fmt), r.difference) for r in _METRICS]
    rest = CONTENT_W - 66 * mm
    table_ = blocks.metrics_table(columns, rows, widths=[44 * mm, 22 * mm] + [min(36 * mm, rest / len(columns))]
                                  * len(columns))
    return [Paragraph("Realised performance over the judged window", STYLES["h2"]), table_,
            Paragraph("Matured rows only, each judged with the version that scored it. Precision, recall and F-beta "
                      "flag PD \u2265 threshold; approval rates are the recorded decisions (hard rules included).",
                      STYLES["small"])]


def _development(data: BacktestReportData) -> list[Flowable]:
    if not data.versions:
        return []
    rows: list[list[Any]] = [["Version", "AUC at development", "AUC now [95% CI]", "z", "One-sided p", "Drop",
                              "Herfindahl at development", "Herfindahl now"]]
    for v in data.versions:
        p, perf = v["auc_drop_p"], v["performance"]
        verdict = DASH if _missing(p) else ("significant" if p < data.alpha else "not significant")
        rows.append([v["version"], f4(v["development_auc"]), _interval(perf["auc"], perf["auc_low"], perf["auc_high"]),
                     _show(lambda z: f"{z:.2f}")(v["auc_drop_z"]), f4(p), verdict, f4(v["development_herfindahl"]),
                     f4(v["bands"]["herfindahl"])])
    widths = [14 * mm, 22 * mm, 36 * mm, 11 * mm, 18 * mm, 21 * mm, 24 * mm]
    widths.append(CONTENT_W - sum(widths))
    return [Paragraph("Discrimination and concentration against development", STYLES["h2"]),
            _small_table(rows, widths),
            Paragraph(f"z = (AUC at development \u2212 AUC now) / s.e.(AUC now), DeLong standard error; the drop is "
                      f"significant when the one-sided p-value is below {data.alpha:g}. AUC at development is the "
                      "out-of-time test AUC recorded at training. Herfindahl index = \u03a3 (share of rows per "
                      "band)\u00b2: higher means rows crowd into fewer bands.", STYLES["small"])]


# ------------------------------------------------------------------------------------------- trends


def _series(data: BacktestReportData, weeks: list[str], value: Callable[[dict[str, Any]], Any]
            ) -> list[tuple[str, list[float]]]:
    """One series per version (the last three) over ``weeks``: the week row's value, NaN where the version has
    none; a version without any value is left out."""
    out = []
    for version in sorted({str(w["version"]) for w in data.weeks}, key=lambda v: (len(v), v))[-3:]:
        by_week = {w["week"]: w for w in data.weeks if str(w["version"]) == version}
        values = [_nan(value(by_week[k])) if k in by_week else float("nan") for k in weeks]
        if not all(math.isnan(v) for v in values):
            out.append((f"v{version}", values))
    return out


def _judged_weeks(data: BacktestReportData) -> list[str]:
    return sorted({w["week"] for w in data.weeks if w["performance"] is not None})


def _perf(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda w: (w["performance"] or {}).get(key)


def _page_trends(data: BacktestReportData) -> list[Flowable]:
    weeks = _judged_weeks(data)
    out: list[Flowable] = [heading("2. Weeks"), *_weeks_table(data)]
    if not weeks:
        return out + [Paragraph("No matured week to draw yet.", STYLES["body"])]
    auc = _series(data, weeks, _perf("auc"))
    bands = [(low, high) for (_, low), (_, high) in zip(_series(data, weeks, _perf("auc_low")),
                                                         _series(data, weeks, _perf("auc_high")), strict=True)]
    rates: list[tuple[str, list[float]]] = []
    for (name, observed), (_, mean_pd) in zip(_series(data, weeks, _perf("default_rate")),
                                              _series(data, weeks, _perf("mean_pd")), strict=True):
        rates += [(f"{name} observed", observed), (f"{name} mean PD", mean_pd)]
    return out + [
        blocks.trend_chart(weeks, auc, "AUC by week with its 95% confidence interval (DeLong)", "AUC", size=CHART,
                           intervals=bands),
        blocks.trend_chart(weeks, _series(data, weeks, _perf("ks")), "KS by week", "KS", size=CHART),
        blocks.trend_chart(weeks, rates, "Observed default rate against mean PD by week", "Rate", size=CHART,
                           percent=True),
        Paragraph("Matured rows of each week. A mean PD persistently below the observed default rate means the "
                  "model underestimates risk; the band tests in section 3 say where.", STYLES["small"]),
    ]


# -------------------------------------------------------------------------------------- calibration


def _bands(data: BacktestReportData, v: dict[str, Any]) -> list[Flowable]:
    b = v["bands"]
    rows = [{"band": r["band"], "n": r["rows"], "mean_p": r["mean_pd"], "observed_rate": r["observed_rate"],
             "defaults": r["defaults"], "jeffreys_p": r["jeffreys_p"],
             "result": "rejected" if r["rejected"] else "ok"} for r in b["bands"]]
    extra = [Column("Defaults", "defaults", fmt_int), Column("Jeffreys p", "jeffreys_p"),
             Column("Jeffreys", "result")]
    rejected = [r["band"] for r in b["bands"] if r["rejected"]]
    hl = (f"Hosmer\u2013Lemeshow over {b['hosmer_lemeshow_df']} bands: statistic {f4(b['hosmer_lemeshow'])}, "
          f"{b['hosmer_lemeshow_df']} degrees of freedom, p-value {f4(b['hosmer_lemeshow_p'])}"
          + ("" if _missing(b["hosmer_lemeshow_p"]) else
             (" (rejected" if b["hosmer_lemeshow_p"] < data.alpha else " (not rejected") + f" at {data.alpha:g})."))
    names = [r["band"] for r in b["bands"]]
    order = (f"Default rates fall from band {names[-1]} (worst) to band {names[0]} (best): no inversion."
             if not b["inversions"] else "Inverted: " + "; ".join(
                 f"band {better} defaults more than band {worse}" for worse, better in b["inversions"]) + ".")
    development = v.get("development_band_rows") or {}
    concentration = [["Band", "Rows now", "Rows at development"]] + [
        [r["band"], count(r["rows"]), count(development.get(r["band"]))] for r in b["bands"]]
    concentration.append(["Herfindahl", f4(b["herfindahl"]), f4(v["development_herfindahl"])])
    return [
        KeepTogether([
            Paragraph(f"Version {esc(v['version'])}: calibration by score band ({len(v['weeks'])} weeks)",
                      STYLES["h2"]),
            blocks.calibration(rows, f"v{v['version']}: observed vs mean PD", extra=extra, size=(2.9, 2.9)),
        ]),
        Spacer(1, 3),
        Paragraph(f"Jeffreys test per band: p = Beta(D + \u00bd, N \u2212 D + \u00bd) distribution function at "
                  f"the band's mean PD, one-sided (small when defaults exceed the PD); rejected below "
                  f"{data.alpha:g}. {len(rejected)} band(s) rejected"
                  + (f" ({esc(', '.join(rejected))})" if rejected else "")
                  + f"; the spec allows {data.max_rejected_bands}. {esc(hl)}", STYLES["small"]),
        Paragraph(f"<b>Rank ordering.</b> {esc(order)}", STYLES["body"]),
        Paragraph("Concentration by band", STYLES["h2"]),
        _small_table(concentration, [30 * mm, 30 * mm, 36 * mm]),
    ]


def _page_calibration(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("3. Calibration by score band")]
    if not data.versions:
        return out + [Paragraph("No matured rows: no band can be judged yet.", STYLES["body"])]
    for v in data.versions:
        out += _bands(data, v)
    return out


# ----------------------------------------------------------------------------------------- estimate


def _page_estimate(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("4. Label-free estimate")]
    if not data.weeks:
        return out + [Paragraph("No scored rows in the window.", STYLES["body"])]
    weeks = sorted({w["week"] for w in data.weeks})
    est = _series(data, weeks, lambda w: w["estimate"]["expected_auc"])
    low = _series(data, weeks, lambda w: w["estimate"]["auc_low"])
    high = _series(data, weeks, lambda w: w["estimate"]["auc_high"])
    realised = _series(data, weeks, _perf("auc"))
    series = [(f"{n} estimated", e) for n, e in est] + [(f"{n} realised", r) for n, r in realised]
    intervals: list[tuple[list[float], list[float]] | None] = [(lo, hi) for (_, lo), (_, hi) in zip(low, high, strict=True)]
    rows: list[list[Any]] = [["Week", "Version", "Rows", "Expected default rate", "Observed", "Estimated AUC [95% CI]",
                              "Realised AUC", "Realised \u2212 est.", "In CI"]]
    extra: list[tuple[Any, ...]] = []
    for i, w in enumerate(data.weeks, start=1):
        e, perf = w["estimate"], w["performance"]
        auc = None if perf is None else perf["auc"]
        inside = DASH if _missing(auc) else ("yes" if e["auc_low"] <= auc <= e["auc_high"] else "no")
        rows.append([w["week"], w["version"], count(e["rows"]),
                     _interval(e["expected_default_rate"], e["default_rate_low"], e["default_rate_high"], pct),
                     pct(None if perf is None else perf["default_rate"]),
                     _interval(e["expected_auc"], e["auc_low"], e["auc_high"]), f4(auc),
                     DASH if _missing(auc) else fmt_diff(auc - e["expected_auc"]), inside])
        if inside == "no":
            extra.append(("TEXTCOLOR", (-1, i), (-1, i), colors.HexColor("#B3261E")))
    widths = [16 * mm, 12 * mm, 14 * mm, 33 * mm, 14 * mm, 33 * mm, 16 * mm, 16 * mm]
    widths.append(CONTENT_W - sum(widths))
    return out + [
        blocks.trend_chart(weeks, series, "Estimated (shaded: 95% interval) and realised AUC by week", "AUC",
                           size=(6.6, 2.8), intervals=intervals),
        Paragraph("The estimate assumes the model's PDs are calibrated: each row defaults with its PD, so the "
                  "expected default rate is the mean PD and the expected AUC is that of the expected outcomes "
                  "(confidence-based performance estimation). For weeks whose outcomes are known, realised and "
                  "estimated sit side by side: how good past estimates were is how far to trust the weeks still "
                  "unmatured.", STYLES["small"]),
        _small_table(rows, widths, extra),
    ]


# --------------------------------------------------------------------------------------- percentiles


def _page_percentiles(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("5. Score percentiles by day")]
    if not data.percentiles:
        return out + [Paragraph("No scored days in the window.", STYLES["body"])]
    days = [p["day"] for p in data.percentiles]
    keys = ("p5", "p25", "p50", "p75", "p95")
    series = [(k.upper(), [float(p[k]) for p in data.percentiles]) for k in keys]
    rows: list[list[Any]] = [["Day", "Version", "Rows", *(k.upper() for k in keys)]]
    rows += [[p["day"], p["version"], count(p["rows"]), *(f"{float(p[k]):g}" for k in keys)]
             for p in data.percentiles]
    widths = [24 * mm, 16 * mm, 20 * mm] + [(CONTENT_W - 60 * mm) / 5] * 5
    return out + [
        blocks.trend_chart(days, series, "Score percentiles by day (points)", "Score", size=(6.6, 2.8)),
        Paragraph("The distribution of the model's own output, matured or not: a shift here shows before any "
                  "outcome is known.", STYLES["small"]),
        _small_table(rows, widths),
    ]


# ---------------------------------------------------------------------------------------- challenger


def _page_challenger(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("6. Shadow challenger")]
    c = data.challenger
    if c is None:
        return out + [Paragraph("No candidate waits in Staging (alias challenger) with matured rows to compare, so "
                                "there is no shadow comparison this week.", STYLES["body"])]
    rate = fmt_pct(c["approval_rate"])
    columns = [("Production (as scored)", {k: _nan(x) for k, x in c["production"].items()}),
               (f"Challenger v{c['version']}", {k: _nan(x) for k, x in c["challenger"].items()})]
    rows = [MetricRow("AUC", "auc", "higher", f4), MetricRow("KS", "ks", "higher", f4),
            MetricRow(f"Default rate at {rate} approved", "default_rate_at_approval_rate", "lower", pct)]
    swap = c["swap"]
    return out + [
        Paragraph(f"The candidate scored the {fmt_int(c['rows'])} matured rows of the judged weeks in memory; "
                  "production scores were not touched.", STYLES["body"]),
        blocks.metrics_table(columns, rows, difference=True,
                             widths=[48 * mm, 22 * mm, 36 * mm, 36 * mm, CONTENT_W - 142 * mm]),
        Paragraph(f"At the same approval rate as production ({rate}), each model approves the rows with its lowest "
                  "PDs: the default rates compare the rankings alone.", STYLES["small"]),
        Paragraph("Swap sets", STYLES["h2"]),
        blocks.swap_matrix(swap, ("Production approved", "Production declined or referred"),
                           (f"Challenger v{c['version']} approves", f"Challenger v{c['version']} declines or refers")),
        Spacer(1, 4),
        Paragraph(f"Production's recorded decisions against the challenger's own (its threshold, the same hard "
                  f"rules). <b>Swap-in</b> (production declined, challenger approves): "
                  f"{fmt_int(swap['swap_in']['n'])} accounts, default rate {fmt_pct(swap['swap_in']['bad_rate'])}. "
                  f"<b>Swap-out</b> (production approved, challenger declines): {fmt_int(swap['swap_out']['n'])} "
                  f"accounts, default rate {fmt_pct(swap['swap_out']['bad_rate'])}. The challenger's decisions are "
                  "better when its swap-out defaults well above its swap-in.", STYLES["body"]),
    ]


# -------------------------------------------------------------------------------------- fair lending


def _version_fairness(data: BacktestReportData, v: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = []
    weeks = [w for w in data.weeks if w["version"] == v["version"] and w.get("fairness")]
    for i, groups in enumerate(v.get("fairness") or []):
        if not groups:
            continue
        first = groups[0]
        out += [Paragraph(esc(f"Version {v['version']}: {first['attribute']} ({first['kind']}), against "
                              f"{first['group']}"), STYLES["h2"]),
                blocks.fairness_table(groups, outcomes=True, approved_bad=True)]
        names = [str(g["group"]) for g in groups if not g["reference"]]
        by_week = [{str(g["group"]): g for g in w["fairness"][i]} for w in weeks]
        labels = [w["week"] for w in weeks]

        def series(key: str, groups_: list[str], by_week: list[dict[str, Any]] = by_week
                   ) -> list[tuple[str, list[float]]]:
            return [(g, [_nan(week.get(g, {}).get(key)) for week in by_week]) for g in groups_]

        if len(labels) > 1 and names:
            out.append(blocks.ratio_chart(labels, series("ratio", names)[:6], data.min_ratio,
                                          f"{first['attribute']}: adverse impact ratio by week (v{v['version']})"))
        if len(labels) > 1:
            out.append(blocks.trend_chart(labels, series("default_rate", [str(g["group"]) for g in groups])[:6],
                                          f"{first['attribute']}: default rate by week (v{v['version']})",
                                          "default rate", size=CHART, percent=True))
    return out


def _page_fairness(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("7. Fair lending"), Paragraph(
        f"Per fairness attribute and group of the matured rows: the recorded decisions' approval rate and adverse "
        f"impact ratio (AIR) against the reference group with its 95% interval (Katz's log interval; below "
        f"{data.min_ratio:g} red, groups with fewer than {data.min_group_rows} rows not judged), the realised "
        "default rate against the mean PD (calibration by group) and the approved book's bad rate, over the judged "
        "window; then the ratios and default rates by week.", STYLES["small"])]
    shown = [f for v in data.versions for f in _version_fairness(data, v)]
    if not shown:
        return out + [Paragraph("No fairness attribute in the spec, or no matured rows to group.", STYLES["body"])]
    return out + shown


# ------------------------------------------------------------------------------------------- reviews


def _page_reviews(data: BacktestReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("8. Reviewers' decisions")]
    o = data.overrides
    if o is None:
        return out + [Paragraph("The reviewers' decisions were not read for this report.", STYLES["body"])]
    if not o["overall"]["sent"]:
        return out + [Paragraph("The policy sent no row of the weeks read to review.", STYLES["body"])]
    head = ["Band", "Sent to review", "Decided", "Share decided", "Overridden", "Override rate",
            "Reviewer-approved (matured)", "Their default rate", "Policy-approved (matured)", "Their default rate"]
    rows = [[r["band"], count(r["sent"]), count(r["decided"]), pct(r["decided_share"]), count(r["overridden"]),
             pct(r["override_rate"]), count(r["matured_reviewer_approved"]), pct(r["reviewer_approved_default_rate"]),
             count(r["matured_model_approved"]), pct(r["model_approved_default_rate"])]
            for r in [*o["bands"], o["overall"]]]
    expected = (DASH if o["expected_min"] is None else
                f"the spec expects an overall override rate from {fmt_pct(o['expected_min'])} to "
                f"{fmt_pct(o['expected_max'])} once {fmt_int(o['min_decided'])} reviews are decided")
    verdict = ("; ".join(o["alerts"]) if o["alerts"] else
               "inside the expected range" if o["expected_min"] is not None and o["overall"]["decided"] >= o["min_decided"]
               else "not judged")
    return out + [
        Paragraph("Every row of the weeks read (judged and estimated) that the policy sent to review, with the "
                  "reviewers' decisions known by the as-of date (the last decision of a row counts). The model's "
                  "suggestion for such a row is its own call at its threshold before the review zone and the hard "
                  "rules route it: approve when the PD is below the version's threshold, decline otherwise; a "
                  "reviewer overrides when deciding otherwise. The default rates are of matured rows with a known "
                  "outcome: those reviewers approved beside those the policy approved without review, band by "
                  "band.", STYLES["small"]),
        _small_table([head, *rows], [14 * mm, *[(CONTENT_W - 14 * mm) / 9] * 9],
                     extra=[("FONT", (0, len(rows)), (-1, len(rows)), BOLD, 7.5)]),
        Spacer(1, 4),
        Paragraph(esc(f"Override rate: {verdict}" + ("" if expected == DASH else f" ({expected}).")),
                  STYLES["body"]),
    ]


# ------------------------------------------------------------------------------------------ document


def _page_summary(data: BacktestReportData) -> list[Flowable]:
    return [
        Paragraph("Weekly backtest report", STYLES["title"]),
        Paragraph(f"{esc(data.model_name)} \u00b7 dataset {esc(data.dataset)} \u00b7 as of {esc(data.as_of)}",
                  STYLES["subtitle"]),
        Paragraph(f"For the risk team \u00b7 generated {esc(data.generated_at)}", STYLES["small"]),
        Spacer(1, 6),
        heading("1. Summary"),
        _alerts(data),
        *_identity(data),
        *_window(data),
        *_development(data),
    ]


def render_backtest_report(data: BacktestReportData) -> bytes:
    """The backtest report as PDF bytes; identical data gives identical bytes."""
    story = pages(data, _page_summary, _page_trends, _page_calibration, _page_estimate, _page_percentiles,
                  _page_challenger, _page_fairness, _page_reviews)
    metadata = Metadata(title=f"Weekly backtest: {data.model_name} as of {data.as_of}",
                        subject=f"Backtest of {data.model_name} on {data.dataset}",
                        keywords=("credit risk", "backtest", "model validation", data.dataset))
    header = Header(title="Weekly backtest report \u00b7 risk team", identity=data.model_name,
                    identity_suffix=f" \u00b7 as of {data.as_of}",
                    footer=f"Generated {data.generated_at} \u00b7 dataset {data.dataset}")
    return render(story, metadata, header)


__all__ = ["BacktestReportData", "render_backtest_report"]
