"""Weekly stability PDF report for the risk team, one per dataset and ISO week.

The caller (``ml.monitor.weekly``) reads every number and light from the monitoring history and the
manifests and passes them in a :class:`StabilityReportData`; this module lays them out with
:mod:`reports.document` and :mod:`reports.blocks`. Same data, same PDF bytes.

Layout, A4 portrait:

1. summary of the week (overall light, score PSI), score PSI by day with lights
2. score PSI by week, CSI heat table (feature x week)
3. this week's statistics per feature (CSI, KS, JS), reference vs current distributions of the three most
   drifted features
4. decision mix and rule hits by day (policy drift shows here first), data quality by day
5. fair lending: per attribute, the week's approval rate and adverse impact ratio per group, the ratios by day
   and by ISO week; the mix of first reasons by day and its shift against training
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, PageBreak, Paragraph, Spacer

from reports import blocks
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
    fmt_int,
    fmt_pct,
    fmt_threshold,
    heading,
    render,
)
from reports.tables import table

Light = str | None


@dataclass(frozen=True)
class DayRow:
    """One monitored day (the latest model version that scored it)."""

    date: str
    model_version: str
    rows: int
    score_psi: float | None
    score_light: Light
    red: list[str]
    amber: list[str]
    light: Light  # the day's overall light, or "too few rows"
    score_critical: float | None = None  # the score PSI no change exceeds with 1% probability at the day's rows


@dataclass(frozen=True)
class FeatureRow:
    """This week's statistics of one feature; values None where not computed (KS of a categorical
    feature, or of a model without a reference sample: ``ks_note`` says why)."""

    name: str
    csi: float | None
    csi_light: Light
    ks: float | None
    ks_light: Light
    ks_p: float | None
    js: float | None
    js_light: Light
    light: Light
    unseen: dict[str, int]
    ks_note: str = ""
    csi_critical: float | None = None  # the CSI no change exceeds with 1% probability at the week's rows


@dataclass(frozen=True)
class Distribution:
    feature: str
    csi: float
    labels: list[str]
    reference: list[float]  # shares per bin
    current: list[float]


@dataclass(frozen=True)
class DecisionDay:
    date: str
    rows: int
    decisions: dict[str, int]  # approve / review / decline
    rules: dict[str, int]  # rows per hard rule code


@dataclass(frozen=True)
class QualityDay:
    date: str
    rows_in: int
    rows_clean: int
    quarantine_rate: float  # fraction
    top_reasons: list[tuple[str, int]]  # (column, quarantined rows), most frequent first
    null_rates: list[tuple[str, float]]  # (column, fraction), highest first


@dataclass(frozen=True)
class FairAttribute:
    """One fairness attribute's groups in the week (``ml.fairness.GroupRow``-like dicts: group, reference, rows,
    approval_rate, ratio, ratio_low, ratio_high, light; the reference first) and its adverse impact ratios over
    time: by day of the week and by ISO week, one series per group other than the reference."""

    attribute: str
    kind: str  # protected / monitored
    reference: str
    week: list[dict[str, Any]]
    days: list[str]
    by_day: list[tuple[str, list[float | None]]]
    weeks: list[str]
    by_week: list[tuple[str, list[tuple[float | None, Light]]]]


@dataclass(frozen=True)
class ReasonDay:
    """A day's (or the week's) mix of first reasons: rows given reasons, rows per statement code, and the mix's
    shift (PSI against the candidate's test sample, with its light; None without that reference)."""

    date: str
    explained: int
    first: dict[str, int]
    shift: float | None
    shift_light: Light


@dataclass(frozen=True)
class StabilityReportData:
    """Everything the weekly stability report shows, already computed and graded by the caller."""

    dataset: str
    week: str  # ISO week, e.g. 2026-W38
    start: str
    end: str
    model_versions: list[str]
    generated_at: str  # given by the caller (the report never reads the clock)
    thresholds: dict[str, tuple[float, float]]  # "psi", "ks", "js" -> (amber, red)
    eps: float
    min_rows: int
    week_rows: int
    week_light: Light
    week_score_psi: float | None
    week_score_light: Light
    days: list[DayRow]
    weeks: list[tuple[str, float | None, Light]]  # (ISO week, score PSI, light), oldest first, this week last
    heat: list[tuple[str, list[tuple[float | None, Light]]]]  # (feature, CSI and light per week of `weeks`)
    features: list[FeatureRow]  # worst first
    distributions: list[Distribution]
    decisions: list[DecisionDay]
    quality: list[QualityDay]
    fairness: list[FairAttribute] = field(default_factory=list)
    min_ratio: float = 0.8
    min_group_rows: int = 50
    reasons: list[ReasonDay] = field(default_factory=list)  # by day; empty for scores without a reason mix
    reason_week: ReasonDay | None = None
    reason_reference: dict[str, float] | None = None  # share of each code as first reason at training
    reason_texts: dict[str, str] = field(default_factory=dict)  # code -> statement (none: codes are features)
    week_score_critical: float | None = None  # the week's score PSI critical value (1%, its rows)


def _num(value: float | None) -> str:
    return DASH if value is None else fmt4(value)


def _cell(value: float | None, light: Light) -> blocks.LightCell:
    return _num(value), light


# ------------------------------------------------------------------------------------------ page 1


def _summary(data: StabilityReportData) -> list[Flowable]:
    versions = ", ".join(f"v{v}" for v in data.model_versions) or DASH
    psi, ks, js = data.thresholds["psi"], data.thresholds["ks"], data.thresholds["js"]
    facts = [
        ("Dataset", data.dataset), ("Week", f"{data.week}: {data.start} to {data.end}"),
        ("Model version(s)", versions), ("Rows monitored", fmt_int(data.week_rows)),
        ("Days monitored", str(len(data.days))),
        ("Thresholds", f"PSI/CSI {fmt_threshold(psi[0])} / {fmt_threshold(psi[1])}, KS {fmt_threshold(ks[0])} / "
                       f"{fmt_threshold(ks[1])}, JS {fmt_threshold(js[0])} / {fmt_threshold(js[1])} (amber / red); "
                       f"fewer than {data.min_rows} rows: not judged"),
        ("Evidence", "amber or red only when the statistic also exceeds its critical value: what no change "
                     "would exceed with 1% probability at the window's rows (PSI/CSI/JS: chi-square with B-1 "
                     "degrees of freedom scaled by 1/n + 1/m; KS: p < 1%)"),
    ]
    out: list[Flowable] = [
        Paragraph("Weekly stability report", STYLES["title"]),
        Paragraph(f"{esc(data.dataset)} \u00b7 {esc(data.week)} \u00b7 {esc(data.start)} to {esc(data.end)}",
                  STYLES["subtitle"]),
        Paragraph(f"Prepared for the risk team \u00b7 generated {esc(data.generated_at)}", STYLES["small"]),
        Spacer(1, 6), heading("1. The week"), blocks.key_value_table(facts), Spacer(1, 6),
    ]
    if data.week_score_psi is not None:
        out.append(blocks.light_summary("Score PSI", data.week_score_psi, data.week_score_light or ""))
        if data.week_score_critical is not None:
            out.append(Paragraph(f"Score PSI no change would exceed with 1% probability at the week's rows: "
                                 f"{_num(data.week_score_critical)}.", STYLES["small"]))
    out += [Spacer(1, 3), Paragraph(f"Overall light of the week: <b>{esc(data.week_light or DASH)}</b> (the worst "
                                    "of the score PSI and every feature's worst statistic).", STYLES["body"])]
    return out


def _by_day(data: StabilityReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("Score PSI by day", 1)]
    judged = [d for d in data.days if d.score_psi is not None]
    if judged:
        psis = [d.score_psi for d in judged if d.score_psi is not None]
        out.append(blocks.trend_chart([d.date[5:] for d in judged], [("Score PSI", psis)],
                                      "Score PSI by day", "PSI", amber=data.thresholds["psi"][0],
                                      red=data.thresholds["psi"][1]))
    rows: list[list[Any]] = [["Date", "Model", "Rows", "Score PSI", "Critical", "Light", "Red features", "Amber",
                              "Overall"]]
    extra: list[tuple[Any, ...]] = []
    for i, d in enumerate(data.days, start=1):
        text, cmd = blocks.traffic_light(d.score_light or DASH, 5, i)
        overall, cmd2 = blocks.traffic_light(d.light or DASH, 8, i)
        rows.append([d.date, f"v{d.model_version}", fmt_int(d.rows), _num(d.score_psi), _num(d.score_critical),
                     text, Paragraph(esc(", ".join(d.red) or DASH), STYLES["cell_small"]), str(len(d.amber)),
                     overall])
        extra += [cmd, cmd2]
    widths = [20 * mm, 13 * mm, 16 * mm, 16 * mm, 16 * mm, 16 * mm, CONTENT_W - 141 * mm, 14 * mm, 30 * mm]
    return out + [table(rows, widths, extra=extra + [("FONT", (0, 0), (-1, -1), SANS, 7.5)], zebra=False)]


# ------------------------------------------------------------------------------------------ page 2


def _by_week(data: StabilityReportData) -> list[Flowable]:
    labels = [w for w, _, _ in data.weeks]
    judged = [(w, v) for w, v, _ in data.weeks if v is not None]
    out: list[Flowable] = [heading("2. Trends by week"), heading("Score PSI by week", 1)]
    if judged:
        out.append(blocks.trend_chart([w for w, _ in judged], [("Score PSI", [v for _, v in judged])],
                                      "Score PSI by week", "PSI", amber=data.thresholds["psi"][0],
                                      red=data.thresholds["psi"][1], size=(6.6, 2.6)))
    out.append(blocks.light_grid(["", *labels], [("Score PSI", [_cell(v, light) for _, v, light in data.weeks])]))
    out += [heading("CSI by feature and week", 1),
            Paragraph("Each cell is the feature's CSI over the week's days, on its light.", STYLES["small"]),
            blocks.light_grid(["Feature", *labels], [(name, [_cell(v, light) for v, light in cells])
                                                    for name, cells in data.heat])]
    return out


# ------------------------------------------------------------------------------------------ page 3


def _features(data: StabilityReportData) -> list[Flowable]:
    rows: list[tuple[str, list[blocks.LightCell]]] = []
    for f in data.features:
        ks = _num(f.ks) + (f" (p {f.ks_p:.2g})" if f.ks_p is not None else "") if f.ks is not None \
            else (f.ks_note or DASH)
        rows.append((f.name, [_cell(f.csi, f.csi_light), (_num(f.csi_critical), None), (ks, f.ks_light),
                              _cell(f.js, f.js_light), (f.light or DASH, f.light)]))
    out: list[Flowable] = [
        heading("3. Features this week"),
        Paragraph("CSI on the reference bins stored with the model, beside its critical value (what no change "
                  "would exceed with 1% probability at the week's rows); KS two-sample statistic (p-value) of "
                  "numeric features against the reference sample stored with the model, amber or red only at "
                  "p < 1%; JS: Jensen-Shannon distance (base 2) of the bins. Empty bins count as "
                  f"\u03b5 = {data.eps:g} in the CSI.", STYLES["small"]),
        blocks.light_grid(["Feature", "CSI", "Critical", "KS", "JS", "Light"], rows, first_width=44 * mm),
    ]
    unseen = [f for f in data.features if f.unseen]
    if unseen:
        text = "; ".join(f"{esc(f.name)}: " + ", ".join(f"{esc(k)} ({fmt_int(v)})" for k, v in f.unseen.items())
                         for f in unseen)
        out.append(Paragraph(f"<b>Categories the model never saw</b> (counted in the \u201cother\u201d bin): {text}",
                             STYLES["body"]))
    if data.distributions:
        out.append(KeepTogether([
            heading("Reference vs current distributions of the most drifted features", 1),
            blocks.distribution_chart([(f"{d.feature}: CSI {fmt4(d.csi)}", d.labels, d.reference, d.current)
                                       for d in data.distributions], f"{data.week}: reference vs current",
                                      panel_height=1.6)]))
    return out


# ------------------------------------------------------------------------------------------ page 4


def _decisions(data: StabilityReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("4. Decisions and data quality"), heading("Decision mix and rule hits by day", 1)]
    if not data.decisions:
        return out + [Paragraph("No scoring manifests for this week.", STYLES["body"])]
    codes = sorted({c for d in data.decisions for c in d.rules})
    shares = {k: [d.decisions.get(k, 0) / d.rows if d.rows else 0.0 for d in data.decisions]
              for k in ("approve", "review", "decline")}
    out.append(blocks.trend_chart([d.date[5:] for d in data.decisions], list(shares.items()),
                                  "Share of rows by decision", "share of rows", size=(6.6, 2.4)))
    # a day per column and a rule per row: rule codes are long words (HR02-SERIOUS-DELINQUENCY), and a spec may
    # have many rules but a week has seven days
    rows: list[list[Any]] = [["Day", *(d.date[5:] for d in data.decisions)],
                             ["Rows", *(fmt_int(d.rows) for d in data.decisions)]]
    rows += [[k.capitalize(), *(fmt_pct(v) for v in shares[k])] for k in ("approve", "review", "decline")]
    rows += [[f"Rule {c}", *(fmt_int(d.rules.get(c, 0)) for d in data.decisions)] for c in codes]
    out.append(table(rows, [CONTENT_W - 18 * mm * len(data.decisions)] + [18 * mm] * len(data.decisions),
                     extra=[("FONT", (0, 0), (-1, -1), SANS, 7.5), ("FONT", (0, 0), (-1, 0), BOLD, 7.5)]))
    return out


def _quality(data: StabilityReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("Data quality by day", 1)]
    if not data.quality:
        return out + [Paragraph("No preprocessing manifests for this week.", STYLES["body"])]
    rows: list[list[Any]] = [["Date", "Rows in", "Clean", "Quarantined", "Top quarantine reasons",
                              "Highest null rates"]]
    for q in data.quality:
        reasons = ", ".join(f"{c} ({n})" for c, n in q.top_reasons) or DASH
        nulls = ", ".join(f"{c} {fmt_pct(r)}" for c, r in q.null_rates) or DASH
        rows.append([q.date, fmt_int(q.rows_in), fmt_int(q.rows_clean), fmt_pct(q.quarantine_rate),
                     Paragraph(esc(reasons), STYLES["cell_small"]), Paragraph(esc(nulls), STYLES["cell_small"])])
    rest = (CONTENT_W - 72 * mm) / 2
    return out + [table(rows, [20 * mm, 16 * mm, 16 * mm, 20 * mm, rest, rest],
                        extra=[("FONT", (0, 0), (-1, -1), SANS, 7.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("ALIGN", (4, 0), (-1, -1), "LEFT")])]


# ------------------------------------------------------------------------------------------ page 5


def _fair_attribute(data: StabilityReportData, a: FairAttribute) -> list[Flowable]:
    out: list[Flowable] = [heading(f"{a.attribute} ({a.kind}), against {a.reference}", 1)]
    if not a.week:
        return out + [Paragraph("No decisions counted for this week.", STYLES["body"])]
    out += [blocks.fairness_table(a.week), Spacer(1, 4)]
    shown = [(g, [float("nan") if v is None else v for v in values]) for g, values in a.by_day]
    if a.days and shown:
        out.append(blocks.ratio_chart([d[5:] for d in a.days], shown, data.min_ratio,
                                      f"{a.attribute}: adverse impact ratio by day"))
    if a.weeks and a.by_week:
        out += [Paragraph("Adverse impact ratio by ISO week, on its light:", STYLES["small"]),
                blocks.light_grid(["Group", *a.weeks], [(g, [(DASH if v is None else f"{v:.2f}", light)
                                                            for v, light in cells]) for g, cells in a.by_week])]
    return out


def _reason_mix(data: StabilityReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("Reason mix by day", 1)]
    if not data.reasons:
        return out + [Paragraph("The week's scores carry no reason mix (scored before it was counted).",
                                STYLES["body"])]
    codes = sorted({c for d in data.reasons for c in d.first} | set(data.reason_reference or {}))
    week = data.reason_week
    reference = data.reason_reference
    rows: list[list[Any]] = [["Reason", *(d.date[5:] for d in data.reasons), "Week", "Training"]]
    for code in codes:
        text = data.reason_texts.get(code)
        label = Paragraph(esc(f"{code}: {text}" if text else code), STYLES["cell_small"])
        rows.append([label, *(fmt_pct(d.first.get(code, 0) / d.explained) if d.explained else DASH
                              for d in data.reasons),
                     fmt_pct(week.first.get(code, 0) / week.explained) if week and week.explained else DASH,
                     fmt_pct(reference.get(code, 0.0)) if reference is not None else DASH])
    extra: list[tuple[Any, ...]] = []
    shift: list[Any] = [Paragraph("<b>Shift (PSI)</b>", STYLES["cell_small"])]
    for c, d in enumerate([*data.reasons, *([week] if week else [])], start=1):
        text, cmd = blocks.traffic_light(d.shift_light or DASH, c, len(rows))
        shift.append(DASH if d.shift is None else fmt4(d.shift))
        if d.shift_light:
            extra.append(cmd)
    rows.append(shift + [DASH] * (len(rows[0]) - len(shift)))
    rows.append([Paragraph("<b>Rows given reasons</b>", STYLES["cell_small"]),
                 *(fmt_int(d.explained) for d in data.reasons), fmt_int(week.explained) if week else DASH, DASH])
    first = 58 * mm
    rest = (CONTENT_W - first) / (len(rows[0]) - 1)
    out.append(table(rows, [first] + [rest] * (len(rows[0]) - 1),
                     extra=extra + [("FONT", (0, 0), (-1, -1), SANS, 7), ("FONT", (0, 0), (-1, 0), BOLD, 7)]))
    out.append(Paragraph("Share of the rows given reasons (declined or referred) whose first reason is the statement; "
                         "the shift is the PSI of the day's shares against those of the candidate's test sample "
                         "at training, on the PSI thresholds.", STYLES["small"]))
    return out


def _fair_lending(data: StabilityReportData) -> list[Flowable]:
    out: list[Flowable] = [heading("5. Fair lending and reasons")]
    if data.fairness:
        out.append(Paragraph(
            f"Approval rate (\u201capprove\u201d decisions) of each group and its adverse impact ratio (AIR) against "
            f"the reference group, with its 95% interval (Katz's log interval): red (an alert) when the ratio and "
            f"its whole interval are below {data.min_ratio:g}, amber when only the ratio is; groups with fewer "
            f"than {data.min_group_rows} rows not judged.", STYLES["small"]))
    else:
        out.append(Paragraph("The spec declares no protected or monitored attribute (fairness.attributes).",
                             STYLES["body"]))
    for a in data.fairness:
        out += _fair_attribute(data, a)
    return out + _reason_mix(data)


# ------------------------------------------------------------------------------------------ document


def render_stability_report(data: StabilityReportData) -> bytes:
    """The weekly stability report as PDF bytes; identical data gives identical bytes."""
    if len({len(cells) for _, cells in data.heat} | {len(data.weeks)}) > 1:
        raise ValueError("heat: every feature needs one cell per week of `weeks`")
    story: list[Flowable] = [*_summary(data), *_by_day(data), PageBreak(), *_by_week(data), PageBreak(),
                             *_features(data), PageBreak(), *_decisions(data), *_quality(data), PageBreak(),
                             *_fair_lending(data)]
    metadata = Metadata(title=f"Weekly stability report: {data.dataset} {data.week}",
                        subject=f"Population stability of the {data.dataset} model, {data.start} to {data.end}",
                        keywords=("credit risk", "stability", "PSI", data.dataset))
    header = Header(title="Weekly stability report \u00b7 risk team", identity=data.dataset,
                    identity_suffix=f" \u00b7 {data.week}",
                    footer=f"Generated {data.generated_at} \u00b7 dataset {data.dataset} \u00b7 model "
                           + ", ".join(f"v{v}" for v in data.model_versions))
    return render(story, metadata, header)


__all__ = ["StabilityReportData", "DayRow", "FeatureRow", "Distribution", "DecisionDay", "QualityDay",
           "FairAttribute", "ReasonDay", "render_stability_report"]
