"""Stability alerts for the risk team: which windows to tell about, and the mail that tells them.

One mail per stability run, covering every window of the run that is amber or red and was not already
alerted at that level or above (a window that worsens from amber to red is told again; a re-run is not).
The mail lists the windows, then the drifting features of the worst one with their CSI, KS and JS and
lights, with a chart of the reference against the current distribution of its most drifted features.
Its words are `ml.mails.stability_alert`'s; the DAG's notify task sends it and records it (`record_sent`)
as an `alert` row of the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml import bins as binning
from ml import mails
from ml.monitor import stability
from ml.monitor.history import History, Record
from ml.monitor.stability_run import WindowSummary
from ml.spec import DatasetSpec

if TYPE_CHECKING:
    from ml.monitor.check import Window

ALERT = "alert"
CHART_FEATURES = 3


@dataclass(frozen=True)
class Alert:
    mail: mails.Mail
    chart: bytes  # PNG, attached as mails.ALERT_CHART and shown inline


def _unsent(history: History, dataset: str, windows: Sequence[tuple[str, str, dt.date, str | None]]) -> list[int]:
    """Positions of the (version, kind, start, light) windows that are amber or red and were not alerted yet at
    that level or above."""
    alarming = [i for i, w in enumerate(windows) if w[3] in (binning.AMBER, binning.RED)]
    if not alarming:
        return []
    sent = {(r.model_version, r.window_kind, r.window_start): r.light for r in history.read(
        dataset, statistics=[ALERT], window_starts=sorted({windows[i][2] for i in alarming}))}
    return [i for i in alarming if stability.SEVERITY[windows[i][3]] > stability.SEVERITY.get(sent.get(windows[i][:3]), 0)]


def pending(history: History, dataset: str, windows: Sequence["Window"]) -> list["Window"]:
    """The amber or red windows not yet alerted at their level or above."""
    return [windows[i] for i in _unsent(history, dataset, [(w.model_version, w.kind, w.start, w.light)
                                                           for w in windows])]


def unsent(history: History, dataset: str, windows: Sequence[WindowSummary | Mapping[str, Any]]
           ) -> list[WindowSummary]:
    """`pending` for windows as a run summary lists them: those an earlier attempt has not mailed yet."""
    typed = [WindowSummary.of(w) for w in windows]
    return [typed[i] for i in _unsent(history, dataset, [(*w.key, w.light) for w in typed])]


def record_sent(history: History, dataset: str, windows: Sequence[WindowSummary | Mapping[str, Any]],
                to: Sequence[str], subject: str, now: dt.datetime | None = None) -> None:
    """Remember that the alert for these windows (as in a run summary) was mailed, at their lights."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write(Record(dataset, *w.key, ALERT, "", None, w.light, {"to": list(to), "subject": subject, "sent_at": at})
                  for w in map(WindowSummary.of, windows))


def drifting(window: "Window") -> list[str]:
    """The window's amber and red features, worst first (light, then CSI)."""
    lights = {s.feature: s.light for s in window.stats if s.statistic == stability.OVERALL and s.feature}
    csi = {s.feature: s.value or 0.0 for s in window.stats if s.statistic == stability.CSI}
    return sorted((f for f, light in lights.items() if light in (binning.AMBER, binning.RED)),
                  key=lambda f: (-stability.SEVERITY[lights[f]], -csi[f], f))


def chart(window: "Window", reference: stability.Reference, features: Sequence[str]) -> bytes:
    """Reference against current distribution of the given features of a window (PNG)."""
    from reports.charts import distribution_chart

    rows = window.stat(stability.ROWS).value or 1.0
    panels = []
    for name in features:
        bins = reference.features[name].bins
        counts = window.stat(stability.CSI, name).detail["counts"]
        panels.append((f"{name}: CSI {window.stat(stability.CSI, name).value:.4f}", stability.bin_labels(bins),
                       list(bins["proportions"]), [c / rows for c in counts]))
    return distribution_chart(panels, f"{mails.window_label(window.kind, window.start)}, model v{window.model_version}")


def _drifting_feature(window: "Window", name: str) -> mails.DriftingFeature:
    stats = {s.statistic: s for s in window.stats if s.feature == name}
    return mails.DriftingFeature(name, (stats.get(stability.CSI), stats.get(stability.KS), stats.get(stability.JS)),
                                 window.stat(stability.CSI, name).detail.get("unseen", {}))


def compose(spec: DatasetSpec, windows: Sequence["Window"], reference: Callable[[str], stability.Reference]) -> Alert:
    """The alert for the given (amber or red) windows of one run: its mail, and the chart of the worst one."""
    worst = max(windows, key=lambda w: (stability.SEVERITY[w.light], len(w.stat(stability.OVERALL).detail["red"]),
                                        w.kind == "day", w.start))
    features = drifting(worst)
    mail = mails.stability_alert(spec.name, [w.summary() for w in windows], worst.summary(),
                                 [_drifting_feature(worst, name) for name in features], spec.monitoring)
    png = chart(worst, reference(worst.model_version), features[:CHART_FEATURES] or [
        s.feature for s in sorted((s for s in worst.stats if s.statistic == stability.CSI), key=lambda s: -(s.value or 0))
    ][:CHART_FEATURES])
    return Alert(mail, png)
