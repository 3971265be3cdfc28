"""What the monitoring view in Airflow shows of a dataset, read from the history as the weekly PDF reads it.

Per window (day, ISO week or month) the latest model version that was monitored in it, as the PDF picks it
(`ml.monitor.weekly.latest_versions`); its rows, score PSI, worst CSI and overall light exactly as stored.
The alerts sent, the fairness ratios by group, and the registry's side (champion history, waiting
candidates) complete the page; the plugin only renders these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlflow import MlflowClient

from ml.dates import iso_week
from ml.governance import approvals, champions, registry
from ml.monitor import alerts, fair_lending, stability
from ml.monitor.history import History, Record
from ml.monitor.weekly import latest_versions

KINDS = ("day", "week", "month")


@dataclass(frozen=True)
class WindowLight:
    """One window's figures as the history holds them for its latest monitored version."""

    kind: str
    start: dt.date
    label: str  # 2026-09-21, 2026-W39, 2026-09
    model_version: str
    rows: int
    score_psi: float | None
    score_light: str | None
    worst_csi_feature: str | None
    worst_csi: float | None
    worst_csi_light: str | None
    light: str | None
    score_critical: float | None = None  # the score PSI no change exceeds with 1% probability at its rows


@dataclass(frozen=True)
class SentAlert:
    """An alert mail the stability step sent (drift or fairness), per window and level."""

    what: str  # "drift" or "fairness"
    kind: str
    start: dt.date
    model_version: str
    light: str | None
    subject: str
    sent_at: str


@dataclass(frozen=True)
class GroupRatio:
    """One group's adverse impact ratio in one window, with its 95% interval."""

    kind: str
    start: dt.date
    group: str  # attribute=group
    ratio: float | None
    low: float | None
    high: float | None
    light: str | None


@dataclass(frozen=True)
class Candidate:
    """A version waiting for a decision."""

    version: str
    verdict: str
    report_sha256: str
    trigger: str


def label(kind: str, start: dt.date) -> str:
    """How a window is named on the page (and in the PDFs): the date, the ISO week, or the month."""
    return iso_week(start) if kind == "week" else start.strftime("%Y-%m") if kind == "month" else start.isoformat()


def lights(history: History, dataset: str, kind: str, since: dt.date | None = None,
           until: dt.date | None = None) -> list[WindowLight]:
    """The windows of one kind, oldest first, with the latest monitored version's figures."""
    if kind not in KINDS:
        raise ValueError(f"window kind {kind!r} is not one of {', '.join(KINDS)}")
    records = history.read(dataset, window_kind=kind, since=since, until=until,
                           statistics=[stability.ROWS, stability.SCORE_PSI, stability.OVERALL, stability.CSI])
    chosen = latest_versions([r for r in records if r.statistic == stability.OVERALL and r.feature == ""])
    by_window: dict[dt.date, list[Record]] = {}
    for r in records:
        if chosen.get(r.window_start) == r.model_version:
            by_window.setdefault(r.window_start, []).append(r)
    out = []
    for start, rows in sorted(by_window.items()):
        whole = {r.statistic: r for r in rows if r.feature == ""}
        csi = [r for r in rows if r.statistic == stability.CSI and r.value is not None]
        worst = max(csi, key=lambda r: (stability.SEVERITY.get(r.light, 0), r.value or 0.0), default=None)
        psi = whole.get(stability.SCORE_PSI)
        out.append(WindowLight(
            kind, start, label(kind, start), chosen[start], int(whole[stability.ROWS].value or 0) if stability.ROWS in whole else 0,
            psi.value if psi else None, psi.light if psi else None, worst.feature if worst else None,
            worst.value if worst else None, worst.light if worst else None, whole[stability.OVERALL].light,
            psi.detail.get("critical") if psi else None))
    return out


def sent_alerts(history: History, dataset: str, since: dt.date | None = None) -> list[SentAlert]:
    """The drift and fairness alerts mailed, newest first."""
    records = history.read(dataset, statistics=[alerts.ALERT, fair_lending.FAIRNESS_ALERT], since=since)
    found = [SentAlert("drift" if r.statistic == alerts.ALERT else "fairness", r.window_kind, r.window_start,
                       r.model_version, r.light, str(r.detail.get("subject", "")), str(r.detail.get("sent_at", "")))
             for r in records]
    return sorted(found, key=lambda a: (a.sent_at, a.start), reverse=True)


def group_ratios(history: History, dataset: str, kind: str, since: dt.date | None = None) -> list[GroupRatio]:
    """The adverse impact ratios by group of the latest monitored version per window, oldest first."""
    records = history.read(dataset, window_kind=kind, statistics=[fair_lending.RATIO], since=since)
    chosen = latest_versions(records)
    return [GroupRatio(kind, r.window_start, r.feature, r.value, r.detail.get("low"), r.detail.get("high"), r.light)
            for r in records if chosen.get(r.window_start) == r.model_version]


def champion_history(client: MlflowClient, dataset: str) -> list[champions.Event]:
    """The dataset's champion history, newest first."""
    return list(reversed(champions.history(client, registry.model_name(dataset))))


def waiting(client: MlflowClient, dataset: str) -> list[Candidate]:
    """The candidates waiting for a decision, newest first, with their verdicts."""
    name = registry.model_name(dataset)
    out = []
    for version in reversed(approvals.waiting_candidates(client, name)):
        tags = registry.tags(client, name, version)
        out.append(Candidate(version, tags.get("verdict", "?"), tags.get("report_sha256", ""), tags.get("trigger", "")))
    return out
