"""Sections 5 and 6 of the technical file: validation (with the scorecard side by side) and limitations (pure)."""

from __future__ import annotations

from typing import Any

from ml.governance.candidate import ScorecardReview
from ml.governance.technical_file.sources import Sources
from ml.governance.technical_file.wording import SMALL_SAMPLE_FACTOR, WIDE_INTERVAL, auc_text, f4, pct, samples_in_order
from reports.technical_file import SECTION_TITLES, Lines, Rows, Section


def validation(s: Sources) -> Section:
    summary = s.summary
    m, c = summary.metrics, summary.champion_metrics
    keys = [("AUC", "auc"), ("Gini", "gini"), ("KS", "ks"), ("Brier score", "brier"), ("Log loss", "log_loss"),
            ("Precision", "precision"), ("Recall", "recall"), ("F-beta", "fbeta")]
    header = ["Metric", f"Candidate v{summary.version}"] + ([f"Champion v{summary.champion_version}"] if c else [])
    rows = [[label, auc_text(m) if k == "auc" else f4(getattr(m, k))]
            + ([auc_text(c) if k == "auc" else f4(getattr(c, k))] if c else []) for label, k in keys]
    rows.append(["Test rows (positive)", f"{m.n} ({m.positives if m.positives is not None else '?'})"]
                + ([f"{c.n} ({c.positives if c.positives is not None else '?'})"] if c else []))
    metrics = Rows(header, rows, title="Out-of-time test", widths=[0.3, 0.35, 0.35] if c else [0.4, 0.6])
    verdict = [f"Verdict: {summary.verdict}: {summary.verdict_reason}"]
    gain = summary.gain
    if gain:
        d, se = gain.difference, gain.se
        verdict.append(f"AUC gain over the champion on the same rows: {d:+.4f} (95% CI {d - 1.96 * se:+.4f} to "
                       f"{d + 1.96 * se:+.4f}, DeLong's paired test).")
    else:
        verdict.append("No champion: this is the dataset's first model, judged against chance.")
    blocks: list[Any] = [metrics, Lines(verdict)]
    blocks.append(Rows(["Band", "Rows", "PD range", "Mean PD", "Observed rate"],
                       [[str(r.band), f"{r.n:,}", f"{f4(r.min_p)} to {f4(r.max_p)}", f4(r.mean_p),
                         f4(r.observed_rate)] for r in summary.calibration],
                       title="Calibration by band (out-of-time test)"))
    psi = summary.psi_vs_champion
    if psi:
        worst = sorted(psi.features.items(), key=lambda kv: -kv[1].csi)[:5]
        blocks.append(Lines([f"Score PSI of the development sample on the champion's reference bins: "
                             f"{f4(psi.score_psi)} ({psi.score_light}); highest CSI: "
                             + ", ".join(f"{f} {f4(v.csi)} ({v.light})" for f, v in worst) + "."],
                            title="Stability against the champion"))
    else:
        blocks.append(Lines(["No champion to compare the population with."], title="Stability against the champion"))
    fairness = summary.fairness
    if fairness and fairness.challenger:
        rows = [[g.attribute, g.group + (" (reference)" if g.reference else ""), f"{g.rows:,}", pct(g.approval_rate),
                 f"{f4(g.ratio)} ({f4(g.ratio_low)} to {f4(g.ratio_high)})", str(g.light or ""),
                 pct(g.default_rate)] for groups in fairness.challenger for g in groups]
        blocks.append(Rows(["Attribute", "Group", "Rows", "Approval rate", "Adverse impact ratio (95% CI)", "Light",
                            "Default rate"], rows, title=f"Fair lending (minimum ratio {fairness.min_ratio:g})",
                           widths=[0.14, 0.17, 0.09, 0.12, 0.26, 0.11, 0.11]))
        if fairness.below:
            blocks.append(Lines(list(fairness.below)))
    else:
        blocks.append(Lines(["The spec names no fairness attributes."], title="Fair lending"))
    blocks += _scorecard(summary.scorecard)
    return Section(5, SECTION_TITLES[4], blocks)


def _scorecard(review: ScorecardReview | None) -> list[Any]:
    """The scorecard and the XGBoost model side by side, and the scorecard's points table."""
    if not review:
        return [Lines(["No scorecard was trained beside this candidate (registered before riskops trained one)."],
                      title="Scorecard challenger")]
    x, c, g = review.xgboost, review.scorecard, review.gain
    keys = [("AUC", "auc"), ("KS", "ks"), ("Brier score", "brier"), ("Gini", "gini")]
    rows = [[label, auc_text(x) if k == "auc" else f4(getattr(x, k)), auc_text(c) if k == "auc" else f4(getattr(c, k))]
            for label, k in keys]
    candidate = "the scorecard is the candidate" if review.candidate == "scorecard" else \
        "the XGBoost model is the candidate"
    lines = [f"Both trained on the same development sample and judged on the same out-of-time test; {candidate}. "
             f"XGBoost minus scorecard AUC: {g.difference:+.4f} (95% CI {g.low:+.4f} to {g.high:+.4f}, "
             "DeLong's paired test)."]
    points = Rows(["Feature", "Bin", "Weight of evidence", "Points"],
                  [[r.feature, r.bin, f4(r.woe), f"{r.points:.1f}"] for r in review.points],
                  title="Scorecard points (a row's points summed over its features give its score)",
                  widths=[0.34, 0.34, 0.16, 0.16])
    value = Rows(["Feature", "Information value"],
                 [[f, f4(v)] for f, v in sorted(review.information_value.items(), key=lambda kv: (-kv[1], kv[0]))],
                 title="Information value", widths=[0.6, 0.4])
    return [Rows(["Metric", "XGBoost", "Scorecard"], rows, title="Scorecard challenger", widths=[0.3, 0.35, 0.35]),
            Lines(lines), points, value]


def limitations(s: Sources) -> Section:
    summary, spec, m = s.summary, s.spec, s.summary.metrics
    lines = []
    for name, counts in samples_in_order(summary):
        if counts.rows < SMALL_SAMPLE_FACTOR * spec.training.min_rows or \
                counts.positives < SMALL_SAMPLE_FACTOR * spec.training.min_positives:
            lines.append(f"Small sample: {name} holds {counts.rows:,} rows with {counts.positives:,} positive "
                         f"outcomes, under {SMALL_SAMPLE_FACTOR} times the spec's minimum "
                         f"({spec.training.min_rows} rows, {spec.training.min_positives} positives).")
    if m.auc_high is not None and m.auc_low is not None and m.auc_high - m.auc_low > WIDE_INTERVAL:
        lines.append(f"Wide interval: the out-of-time AUC's 95% interval spans {m.auc_high - m.auc_low:.4f} "
                     f"({f4(m.auc_low)} to {f4(m.auc_high)}).")
    lines += [f"Data window incomplete: {gap}." for gap in summary.gaps]
    a = summary.data_accounting
    if a.unknown_outcomes:
        lines.append(f"{a.unknown_outcomes:,} matured rows had an unknown outcome and were left out of training.")
    quarantined = sum(x.rows_quarantined for x in s.manifests)
    if quarantined:
        ranges = sorted({r.column for x in s.manifests for r in x.stats.top_reasons})
        lines.append(f"{quarantined:,} rows of the window were quarantined (values out of the allowed range or "
                     f"category, unreadable or missing where required; columns: {', '.join(ranges)}): the model "
                     "never saw values outside the spec's ranges, and scoring quarantines them the same way.")
    fairness = summary.fairness
    small = [f"{g.attribute} {g.group}" for groups in (fairness.challenger if fairness else []) for g in groups
             if g.light == "too few rows"]
    if small and fairness:
        lines.append(f"Groups too small to judge (under {fairness.min_group_rows} rows): {', '.join(small)}.")
    lines.append(f"The model is valid for the population of the data window ({summary.window[0]} to "
                 f"{summary.window[1]}); stability monitoring says when the population moves away from it.")
    return Section(6, SECTION_TITLES[5], [Lines(lines)])
