"""Stability alerts for the risk team: which windows to tell about, and the mail that tells them.

One mail per stability run, covering every window of the run that is amber or red and was not already
alerted at that level or above (a window that worsens from amber to red is told again; a re-run is not).
The mail lists the windows, then the drifting features of the worst one with their CSI, KS and JS and
lights, with a chart of the reference against the current distribution of its most drifted features.
The DAG's notify task sends it and records it (`record_sent`) as an `alert` row of the history.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml import bins as b
from ml.data.spec import DatasetSpec
from ml.monitor import stability as st
from ml.monitor.history import History, Record

if TYPE_CHECKING:
    from ml.monitor.check import Window

ALERT = "alert"
CHART = "drift.png"  # the chart's attachment name; the HTML shows it inline as cid:drift.png
CHART_FEATURES = 3
_BACKGROUND = {b.GREEN: "#C8E6C9", b.AMBER: "#FFE0B2", b.RED: "#FFCDD2"}


@dataclass(frozen=True)
class Mail:
    subject: str
    html: str
    chart: bytes  # PNG


def _unsent(history: History, dataset: str, windows: Sequence[tuple[str, str, dt.date, str | None]]) -> list[int]:
    """Positions of the (version, kind, start, light) windows that are amber or red and were not alerted yet at
    that level or above."""
    alarming = [i for i, w in enumerate(windows) if w[3] in (b.AMBER, b.RED)]
    if not alarming:
        return []
    sent = {(r.model_version, r.window_kind, r.window_start): r.light for r in history.read(
        dataset, statistics=[ALERT], window_starts=sorted({windows[i][2] for i in alarming}))}
    return [i for i in alarming if st.SEVERITY[windows[i][3]] > st.SEVERITY.get(sent.get(windows[i][:3]), 0)]


def pending(history: History, dataset: str, windows: Sequence["Window"]) -> list["Window"]:
    """The amber or red windows not yet alerted at their level or above."""
    return [windows[i] for i in _unsent(history, dataset, [(w.model_version, w.kind, w.start, w.light)
                                                           for w in windows])]


def unsent(history: History, dataset: str, windows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pending` for windows as a run summary lists them: those an earlier attempt has not mailed yet."""
    keys = [(w["model_version"], w["kind"], dt.date.fromisoformat(w["start"]), w["light"]) for w in windows]
    return [windows[i] for i in _unsent(history, dataset, keys)]


def record_sent(history: History, dataset: str, windows: Sequence[dict[str, Any]], to: Sequence[str],
                subject: str, now: dt.datetime | None = None) -> None:
    """Remember that the alert for these windows (as in a run summary) was mailed, at their lights."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write(Record(dataset, w["model_version"], w["kind"], dt.date.fromisoformat(w["start"]), ALERT, "",
                         None, w["light"], {"to": list(to), "subject": subject, "sent_at": at}) for w in windows)


def _cell(text: str, light: str | None = None) -> str:
    style = f' style="background:{_BACKGROUND[light]}"' if light in _BACKGROUND else ""
    return f"<td{style}>{html.escape(text)}</td>"


def _value(stat: st.Stat | None) -> tuple[str, str | None]:
    if stat is None:
        return "—", None
    if stat.value is None:
        return stat.detail.get("note", "—"), None
    text = f"{stat.value:.4f}"
    if "p_value" in stat.detail:
        text += f" (p {stat.detail['p_value']:.2g})"
    return f"{text} {stat.light or ''}".strip(), stat.light


def _label(w: "Window") -> str:
    return f"{w.kind} {w.start}" if w.kind == "day" else f"{w.kind} of {w.start}"


def drifting(window: "Window") -> list[str]:
    """The window's amber and red features, worst first (light, then CSI)."""
    lights = {s.feature: s.light for s in window.stats if s.statistic == st.OVERALL and s.feature}
    csi = {s.feature: s.value or 0.0 for s in window.stats if s.statistic == st.CSI}
    return sorted((f for f, light in lights.items() if light in (b.AMBER, b.RED)),
                  key=lambda f: (-st.SEVERITY[lights[f]], -csi[f], f))


def chart(window: "Window", reference: st.Reference, features: Sequence[str]) -> bytes:
    """Reference against current distribution of the given features of a window (PNG)."""
    from reports.charts import distribution_chart

    rows = window.stat(st.ROWS).value or 1.0
    panels = []
    for name in features:
        bins = reference.features[name].bins
        counts = window.stat(st.CSI, name).detail["counts"]
        panels.append((f"{name}: CSI {window.stat(st.CSI, name).value:.4f}", st.bin_labels(bins),
                       list(bins["proportions"]), [c / rows for c in counts]))
    return distribution_chart(panels, f"{_label(window)}, model v{window.model_version}")


def _window_row(w: "Window") -> str:
    overall = w.stat(st.OVERALL)
    red, amber = overall.detail["red"], overall.detail["amber"]
    return ("<tr>" + _cell(_label(w)) + _cell(f"v{w.model_version}") + _cell(f"{int(w.stat(st.ROWS).value or 0):,}")
            + _cell(*_value(w.stat(st.SCORE_PSI))) + _cell(", ".join(red) or "—", b.RED if red else None)
            + _cell(", ".join(amber) or "—", b.AMBER if amber else None) + _cell(w.light or "", w.light) + "</tr>")


def _feature_row(w: "Window", name: str) -> str:
    stats = {s.statistic: s for s in w.stats if s.feature == name}
    unseen = w.stat(st.CSI, name).detail.get("unseen", {})
    return ("<tr>" + _cell(name) + "".join(_cell(*_value(stats.get(k))) for k in (st.CSI, st.KS, st.JS))
            + _cell(", ".join(f"{k} ({v})" for k, v in unseen.items()) or "—") + "</tr>")


def compose(spec: DatasetSpec, windows: Sequence["Window"], reference: Callable[[str], st.Reference]) -> Mail:
    """The alert mail for the given (amber or red) windows of one run."""
    worst = max(windows, key=lambda w: (st.SEVERITY[w.light], len(w.stat(st.OVERALL).detail["red"]),
                                        w.kind == "day", w.start))
    level = "RED" if any(w.light == b.RED for w in windows) else "AMBER"
    features = drifting(worst)
    span = f"{min(w.start for w in windows)} .. {max(w.start for w in windows)}"
    subject = (f"[riskops] {spec.name} stability {level}: {len(windows)} window(s) {span}; worst {_label(worst)} "
               f"(model v{worst.model_version}): score PSI {worst.stat(st.SCORE_PSI).value:.4f}, "
               f"{len(features)} drifting feature(s)")
    m = spec.monitoring
    rows = "".join(_window_row(w) for w in sorted(windows, key=lambda w: (w.start, w.kind)))
    by_feature = "".join(_feature_row(worst, name) for name in features)
    body = (
        f"<p>The population scored for <b>{html.escape(spec.name)}</b> has moved away from the reference its "
        f"model was built on. {len(windows)} window(s) turned amber or red:</p>"
        "<table border='1' cellspacing='0' cellpadding='4'><tr><th>Window</th><th>Model</th><th>Rows</th>"
        "<th>Score PSI</th><th>Red features</th><th>Amber features</th><th>Overall</th></tr>" + rows + "</table>"
        f"<p>Drifting features of the worst window, {html.escape(_label(worst))} (model v{worst.model_version}):</p>"
        "<table border='1' cellspacing='0' cellpadding='4'><tr><th>Feature</th><th>CSI</th><th>KS (p-value)</th>"
        "<th>JS distance</th><th>Unseen categories</th></tr>" + by_feature + "</table>"
        f"<p><img src='cid:{CHART}' alt='reference vs current distributions'></p>"
        f"<p>Thresholds (amber / red): PSI and CSI {m.psi.amber:g} / {m.psi.red:g}, KS {m.ks.amber:g} / "
        f"{m.ks.red:g}, JS {m.js.amber:g} / {m.js.red:g}; a feature takes the worst light of its statistics. "
        f"History: <code>python -m ml history --dataset {html.escape(spec.name)} --since "
        f"{min(w.start for w in windows)}</code>; the weekly stability report has the trends.</p>")
    png = chart(worst, reference(worst.model_version), features[:CHART_FEATURES] or [
        s.feature for s in sorted((s for s in worst.stats if s.statistic == st.CSI), key=lambda s: -(s.value or 0))
    ][:CHART_FEATURES])
    return Mail(subject, body, png)
