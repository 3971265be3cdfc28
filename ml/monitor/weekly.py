"""The weekly stability report of a dataset: its data, read from the history and the manifests, and its PDF.

A week's report is rendered once the week is complete, by the stability run that monitors its last day
(Sunday) or a later day, and rendered again by any later run over its days (a backfill), so the stored PDF
is always current; it is mailed to the risk team once. Days scored by several model versions show the
latest one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from ml import bins, evidence, layout
from ml.data.preprocess import read_manifest
from ml.dates import date_range, iso_week, window_end, window_start
from ml.monitor import fair_lending, stability
from ml.monitor.history import History, Record
from ml.scoring.manifests import ScoreManifest, read_score_manifest
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key
from reports.stability import (
    DayRow,
    DecisionDay,
    Distribution,
    FairAttribute,
    FeatureRow,
    QualityDay,
    ReasonDay,
    StabilityReportData,
    render_stability_report,
)

REPORT = "weekly_report"  # history rows recording that a week's PDF was mailed
WEEKS_SHOWN = 8
DISTRIBUTIONS = 3
TOP = 3  # quarantine reasons and null rates shown per day


def mailed(history: History, dataset: str) -> set[dt.date]:
    """Start dates of the weeks whose report was mailed."""
    return {r.window_start for r in history.read(dataset, window_kind="week", statistics=[REPORT])}


def weeks_to_report(history: History, dataset: str, days: Sequence[dt.date]) -> list[dt.date]:
    """The complete weeks a run over `days` reports (their start dates): the weeks of the days whose last day
    is among or before them, and the week before the first day if it has monitored days and was never
    mailed (a dataset whose weeks have no Sunday rows)."""
    last = max(days)
    starts = {s for s in (window_start("week", d) for d in days) if window_end("week", s) <= last}
    previous = window_start("week", min(days)) - dt.timedelta(days=7)
    if previous not in mailed(history, dataset) and history.read(
            dataset, window_kind="day", statistics=[stability.ROWS], since=previous, until=window_end("week", previous)):
        starts.add(previous)
    return sorted(starts)


def latest_versions(records: list[Record]) -> dict[dt.date, str]:
    """Per window start, the latest model version among the records."""
    chosen: dict[dt.date, str] = {}
    for r in records:
        if r.window_start not in chosen or version_key(r.model_version) > version_key(chosen[r.window_start]):
            chosen[r.window_start] = r.model_version
    return chosen


def report_data(storage: Storage, spec: DatasetSpec, history: History, start: dt.date, reference: stability.Reference,
                version: str, now: dt.datetime) -> StabilityReportData:
    """What the week's report shows; `reference` is the reference of `version`, the week's latest version."""
    end = window_end("week", start)
    day_rows = history.read(spec.name, window_kind="day", since=start, until=end,
                            statistics=[stability.ROWS, stability.SCORE_PSI, stability.OVERALL], feature="")
    per_day = latest_versions(day_rows)
    week = {(r.statistic, r.feature): r for r in history.read(spec.name, model_version=version, window_kind="week",
                                                              window_starts=[start])}
    features = _features(week, reference)
    rows = int(week[(stability.ROWS, "")].value or 0)
    weeks, heat = _trend(history, spec.name, start, features)
    manifests = _score_manifests(storage, spec.name, per_day)
    reasons = [_reason_day(day.isoformat(), m.reasons.explained, m.reasons.first, reference.reasons,
                           reference.eps, spec.monitoring.psi.pair)
               for day, m in manifests.items() if m.reasons is not None]
    explained = sum(r.explained for r in reasons)
    week_first = {c: sum(r.first.get(c, 0) for r in reasons) for c in sorted({c for r in reasons for c in r.first})}
    reason_week = _reason_day(f"{iso_week(start)}", explained, week_first, reference.reasons, reference.eps,
                              spec.monitoring.psi.pair) if reasons else None
    m = spec.monitoring
    score = week[(stability.SCORE_PSI, "")]
    return StabilityReportData(
        dataset=spec.name, week=iso_week(start), start=start.isoformat(), end=end.isoformat(),
        model_versions=sorted(set(per_day.values()), key=version_key),
        generated_at=now.isoformat(timespec="seconds"),
        thresholds={"psi": m.psi.pair, "ks": m.ks.pair, "js": m.js.pair}, eps=reference.eps, min_rows=m.min_rows,
        week_rows=rows, week_light=week[(stability.OVERALL, "")].light, week_score_psi=score.value,
        week_score_light=score.light, days=_days(day_rows, per_day), week_score_critical=score.detail.get("critical"),
        weeks=weeks, heat=heat, features=features, distributions=_distributions(week, reference, features, rows),
        decisions=[DecisionDay(day.isoformat(), m.rows_scored, dict(m.decisions), dict(m.hard_rules))
                   for day, m in manifests.items()],
        quality=_quality(storage, spec.name, start, end),
        fairness=_fairness(spec, history, start, end, per_day, version), min_ratio=spec.fairness.min_ratio,
        min_group_rows=spec.fairness.min_group_rows, reasons=reasons, reason_week=reason_week,
        reason_reference=dict(reference.reasons) if reference.reasons is not None else None,
        reason_texts={s.code: s.text for s in spec.reasons.statements})


def _days(day_rows: list[Record], per_day: dict[dt.date, str]) -> list[DayRow]:
    """The week's days, each for its latest model version."""
    days = []
    for day, v in sorted(per_day.items()):
        got = {r.statistic: r for r in day_rows if r.window_start == day and r.model_version == v}
        overall, psi = got[stability.OVERALL], got[stability.SCORE_PSI]
        days.append(DayRow(day.isoformat(), v, int(got[stability.ROWS].value or 0), psi.value, psi.light,
                           list(overall.detail.get("red", [])), list(overall.detail.get("amber", [])), overall.light,
                           psi.detail.get("critical")))
    return days


def _features(week: dict[tuple[str, str], Record], reference: stability.Reference) -> list[FeatureRow]:
    """This week's statistics per feature, worst first (light, then CSI)."""
    features = []
    for name in reference.features:
        ks, csi, js, verdict = (week.get((k, name)) for k in (stability.KS, stability.CSI, stability.JS, stability.OVERALL))
        assert csi is not None and js is not None and verdict is not None  # every feature's week has them
        features.append(FeatureRow(
            name, csi.value, csi.light, ks.value if ks else None, ks.light if ks else None,
            ks.detail.get("p_value") if ks else None, js.value, js.light,
            verdict.light, dict(csi.detail.get("unseen", {})),
            ks_note=ks.detail.get("note", "") if ks else "categorical: no KS", csi_critical=csi.detail.get("critical")))
    features.sort(key=lambda f: (-stability.SEVERITY.get(f.light, 0), -(f.csi or 0.0), f.name))
    return features


def _distributions(week: dict[tuple[str, str], Record], reference: stability.Reference, features: list[FeatureRow],
                   rows: int) -> list[Distribution]:
    """Reference against this week's distribution of the most drifted features."""
    if not rows:
        return []
    return [Distribution(f.name, f.csi or 0.0, stability.bin_labels(reference.features[f.name].bins),
                         list(reference.features[f.name].bins["proportions"]),
                         [c / rows for c in week[(stability.CSI, f.name)].detail["counts"]])
            for f in features[:DISTRIBUTIONS]]


def _trend(history: History, dataset: str, start: dt.date, features: list[FeatureRow]
           ) -> tuple[list[tuple[str, float | None, str | None]], list[tuple[str, list[tuple[float | None, str | None]]]]]:
    """The score PSI by ISO week (the weeks shown, oldest first) and the CSI heat table (feature x week)."""
    first = start - dt.timedelta(days=7 * (WEEKS_SHOWN - 1))
    trend = history.read(dataset, window_kind="week", since=first, until=start,
                         statistics=[stability.SCORE_PSI, stability.CSI])
    per_week = latest_versions([r for r in trend if r.statistic == stability.SCORE_PSI])
    cells = {(r.window_start, r.statistic, r.feature): r for r in trend
             if per_week.get(r.window_start) == r.model_version}
    weeks = sorted(per_week)
    heat = [(f.name, [(cells[(w, stability.CSI, f.name)].value, cells[(w, stability.CSI, f.name)].light)
                      if (w, stability.CSI, f.name) in cells else (None, None) for w in weeks]) for f in features]
    return [(iso_week(w), cells[(w, stability.SCORE_PSI, "")].value, cells[(w, stability.SCORE_PSI, "")].light)
            for w in weeks], heat


def _score_manifests(storage: Storage, dataset: str, per_day: dict[dt.date, str]) -> dict[dt.date, ScoreManifest]:
    """The scoring manifest of each monitored day's version, by day (read once: decisions and reasons use it)."""
    keys = {day: layout.score_manifest(dataset, day, v) for day, v in sorted(per_day.items())}
    return {day: read_score_manifest(storage, key) for day, key in keys.items() if storage.exists(key)}


def _quality(storage: Storage, dataset: str, start: dt.date, end: dt.date) -> list[QualityDay]:
    """Data quality by day, from the preprocessing manifests."""
    quality = []
    for day in date_range(start, end):
        m = read_manifest(storage, dataset, day)
        if m is not None:
            reasons = sorted(m.stats.reasons_by_column.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
            nulls = sorted(((c, r) for c, r in m.stats.null_rate.items() if r > 0),
                           key=lambda kv: (-kv[1], kv[0]))[:TOP]
            quality.append(QualityDay(day.isoformat(), m.rows_in, m.rows_clean, m.stats.quarantine_rate, reasons,
                                      nulls))
    return quality


def _reason_day(label: str, explained: int, first: dict[str, int], expected: dict[str, float] | None, eps: float,
                thresholds: tuple[float, float]) -> ReasonDay:
    """A day's (or the week's) mix of first reasons and its shift: the PSI of its shares against the mix on the
    candidate's test sample (statements of either side, in one order), graded with the PSI thresholds and its
    critical value at the rows given reasons (`ml.evidence`; the test sample's size is not stored: 1/m is 0)."""
    shift = light = None
    if expected is not None and explained:
        codes = sorted(set(expected) | set(first))
        shares = [expected.get(c, 0.0) for c in codes]
        shift = bins.psi(shares, [first.get(c, 0) / explained for c in codes], eps)
        light = evidence.graded(shift, evidence.psi_critical(sum(1 for p in shares if p > 0), explained, None),
                                *thresholds)
    return ReasonDay(label, explained, dict(first), shift, light)


def _group(record: Record, approval: Record | None) -> dict[str, object]:
    d = record.detail
    return {"attribute": d["attribute"], "kind": d["attribute_kind"], "group": d["group"],
            "reference": d.get("is_reference"), "rows": d["rows"], "approved": d["approved"], "approval_rate": approval.value if approval else None,
            "ratio": record.value, "ratio_low": d.get("low"), "ratio_high": d.get("high"), "light": record.light}


def _fairness(spec: DatasetSpec, history: History, start: dt.date, end: dt.date, per_day: dict[dt.date, str],
              version: str) -> list[FairAttribute]:
    """Per attribute: the week's groups, the ratio by day and by ISO week (the weeks the report shows), read
    from the history (`ml.monitor.fair_lending`)."""
    if not spec.fairness.attributes:
        return []
    stats = [fair_lending.APPROVAL, fair_lending.RATIO]
    week = history.read(spec.name, model_version=version, window_kind="week", window_starts=[start], statistics=stats)
    days = [r for r in history.read(spec.name, window_kind="day", since=start, until=end, statistics=[fair_lending.RATIO])
            if per_day.get(r.window_start) == r.model_version]
    first = start - dt.timedelta(days=7 * (WEEKS_SHOWN - 1))
    trend = history.read(spec.name, window_kind="week", since=first, until=start, statistics=[fair_lending.RATIO])
    per_week = latest_versions(trend)
    weeks = sorted(per_week)
    out = []
    for a in spec.fairness.attributes:
        approvals = {r.detail["group"]: r for r in week
                     if r.statistic == fair_lending.APPROVAL and r.detail["attribute"] == a.column}
        groups = [_group(r, approvals.get(r.detail["group"])) for r in week
                  if r.statistic == fair_lending.RATIO and r.detail["attribute"] == a.column]
        groups.sort(key=lambda g: (not g["reference"], str(g["group"])))
        others = [str(g["group"]) for g in groups if not g["reference"]]
        dates = sorted({r.window_start for r in days})
        cell = {(r.window_start, r.detail["group"]): r for r in days if r.detail["attribute"] == a.column}
        by_day = [(g, [cell[(d, g)].value if (d, g) in cell else None for d in dates]) for g in others]
        wcell = {(r.window_start, r.detail["group"]): r for r in trend
                 if r.detail["attribute"] == a.column and per_week.get(r.window_start) == r.model_version}
        by_week = [(g, [(wcell[(w, g)].value, wcell[(w, g)].light) if (w, g) in wcell else (None, None)
                        for w in weeks]) for g in others]
        out.append(FairAttribute(a.column, a.kind, a.reference, groups, [d.isoformat() for d in dates], by_day,
                                 [iso_week(w) for w in weeks], by_week))
    return out


def render(storage: Storage, spec: DatasetSpec, history: History, start: dt.date,
           reference: Callable[[str], stability.Reference], now: dt.datetime) -> tuple[str, bytes]:
    """The week's PDF, for its latest model version; returns (that version, the PDF bytes)."""
    versions = {r.model_version for r in history.read(spec.name, window_kind="week", window_starts=[start],
                                                      statistics=[stability.ROWS])}
    version = max(versions, key=version_key)
    return version, render_stability_report(report_data(storage, spec, history, start, reference(version),
                                                        version, now))


def record_mailed(history: History, dataset: str, report: dict[str, str], to: Sequence[str],
                  now: dt.datetime | None = None) -> None:
    """Remember that a week's report (as in a run summary) was mailed."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write([Record(dataset, report["model_version"], "week", dt.date.fromisoformat(report["start"]), REPORT,
                          "", None, None, {"key": report["key"], "to": list(to), "sent_at": at})])
