"""The monitoring view's HTML pages (served by the Airflow plugin): plain server-rendered HTML with inline SVG
charts in the PDFs' colours and thresholds. Pure functions of the data `ml.monitor.view` reads; they compute
nothing about the model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

from reports.palette import AMBER, BAD, GOOD, GRID, LIGHT_BACKGROUNDS, NAVY

RED = BAD
BAR = {"green": GOOD, "amber": AMBER, "red": RED}
KIND_TITLES = {"day": "By day", "week": "By ISO week", "month": "By month"}

STYLE = """
body{font-family:'DejaVu Sans',Arial,sans-serif;color:#222;margin:1.2em 2em;max-width:1200px}
h1{color:%s;font-size:1.5em}h2{color:%s;font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #C9D1DB}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0}th{background:#E7ECF2;text-align:left}
th,td{padding:3px 8px;border:1px solid #C9D1DB}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5F6B7A}.ok{color:#1B7F3B}.bad{color:#B3261E;font-weight:bold}code{font-size:.9em}
""" % (NAVY, NAVY)


class Window(Protocol):
    """What a window row shows (ml.monitor.view.WindowLight)."""

    @property
    def label(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def rows(self) -> int: ...
    @property
    def score_psi(self) -> float | None: ...
    @property
    def score_light(self) -> str | None: ...
    @property
    def score_critical(self) -> float | None: ...
    @property
    def worst_csi_feature(self) -> str | None: ...
    @property
    def worst_csi(self) -> float | None: ...
    @property
    def worst_csi_light(self) -> str | None: ...
    @property
    def light(self) -> str | None: ...


class Alert(Protocol):
    """An alert sent (ml.monitor.view.SentAlert)."""

    @property
    def what(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> dt.date: ...
    @property
    def model_version(self) -> str: ...
    @property
    def light(self) -> str | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def sent_at(self) -> str: ...


class Ratio(Protocol):
    """A group's impact ratio in a window (ml.monitor.view.GroupRatio)."""

    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> dt.date: ...
    @property
    def group(self) -> str: ...
    @property
    def ratio(self) -> float | None: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def light(self) -> str | None: ...


class ChampionEvent(Protocol):
    """A line of the champion history (ml.governance.champions.Event)."""

    @property
    def at(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def by(self) -> str: ...
    @property
    def why(self) -> str: ...
    @property
    def report_sha256(self) -> str: ...


class Waiting(Protocol):
    """A candidate waiting (ml.monitor.view.Candidate)."""

    @property
    def version(self) -> str: ...
    @property
    def verdict(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def report_sha256(self) -> str: ...


@dataclass(frozen=True)
class Link:
    """A link shown on a page."""

    text: str
    href: str


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _light(light: str | None) -> str:
    text = escape(light or "—")
    background = LIGHT_BACKGROUNDS.get(light or "")
    return f'<td style="background:{background}">{text}</td>' if background else f"<td>{text}</td>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _table(head: Sequence[str], rows: Sequence[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    return "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def psi_chart(labels: Sequence[str], values: Sequence[float | None], lights: Sequence[str | None],
              thresholds: tuple[float, float], title: str) -> str:
    """Score PSI per window as bars in their light's colour, with the amber and red thresholds dashed."""
    width, height, left, bottom, top = 760, 180, 48, 34, 14
    top_value = max([*(v for v in values if v is not None), thresholds[1] * 1.25])
    n = max(len(values), 1)
    step = (width - left - 8) / n

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / top_value)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 8}" y2="{y(0):.1f}" stroke="{GRID}"/>']
    for i, (text, v, light) in enumerate(zip(labels, values, lights, strict=True)):
        if v is None:
            continue
        x = left + i * step + step * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{step * 0.7:.1f}" height="{y(0) - y(v):.1f}" '
                     f'fill="{BAR.get(light or "", NAVY)}"><title>{escape(text)}: {v:.4f} ({escape(light or "")})'
                     "</title></rect>")
    every = max(1, n // 12)
    for i, text in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text x="{left + (i + 0.5) * step:.1f}" y="{height - bottom + 14}" font-size="9" '
                         f'text-anchor="middle" fill="#5F6B7A">{escape(text)}</text>')
    for value, colour in ((thresholds[0], AMBER), (thresholds[1], RED)):
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - 8}" y2="{y(value):.1f}" stroke="{colour}" '
                     f'stroke-dasharray="5,3"/><text x="{left - 4}" y="{y(value) + 3:.1f}" font-size="9" '
                     f'text-anchor="end" fill="{colour}">{value:g}</text>')
    parts.append(f'<text x="{left}" y="10" font-size="10" fill="{NAVY}">{escape(title)}</text></svg>')
    return "".join(parts)


def index_page(datasets: Sequence[tuple[str, str | None, str]]) -> str:
    """The view's home: each dataset with its latest week's light and its page's address."""
    rows = [f'<tr><td><a href="{escape(href)}">{escape(name)}</a></td>{_light(light)}</tr>'
            for name, light, href in datasets]
    return _page("riskops monitoring", "<h1>riskops monitoring</h1>"
                 + _table(["dataset", "latest ISO week"], rows, "No dataset specs found."))


def dataset_page(dataset: str, windows: Mapping[str, Sequence[Window]], thresholds: tuple[float, float],
                 alerts: Sequence[Alert], ratios: Sequence[Ratio], min_ratio: float,
                 champions: Sequence[ChampionEvent], waiting: Sequence[Waiting], review_href: str,
                 mlflow_href: str | None) -> str:
    """One dataset's page: lights per window kind with score PSI and the worst CSI, the PSI charts, the alerts
    sent, the fairness ratios by group, the champion history and the candidates waiting."""
    body = [f"<h1>{escape(dataset)}: monitoring</h1>",
            f'<p class="muted">Score PSI thresholds: amber ≥ {thresholds[0]:g}, red ≥ {thresholds[1]:g} (the '
            "spec's <code>monitoring:</code>), and above the critical value: what no change would exceed with 1% "
            "probability at the window's rows; read from the monitoring history the weekly PDF is made of.</p>"]

    body.append("<h2>Champion</h2>")
    body.append(_table(["when", "action", "version", "by", "why", "report SHA-256"], [
        f"<tr><td>{escape(e.at)}</td><td>{escape(e.action)}</td><td>v{escape(e.version)}</td><td>{escape(e.by)}</td>"
        f"<td>{escape(e.why)}</td><td><code>{escape(e.report_sha256[:16])}</code></td></tr>"
        for e in champions], "No champion yet."))

    body.append("<h2>Candidates waiting for a decision</h2>")
    body.append(_table(["version", "verdict", "trigger", "report SHA-256", "review"], [
        f"<tr><td>v{escape(c.version)}</td><td>{escape(c.verdict)}</td><td>{escape(c.trigger)}</td>"
        f"<td><code>{escape(c.report_sha256[:16])}</code></td>"
        f'<td><a href="{escape(review_href.format(version=c.version))}">report</a></td></tr>'
        for c in waiting], "None."))

    for kind, shown in windows.items():
        body.append(f"<h2>{escape(KIND_TITLES.get(kind, kind))}</h2>")
        if shown:
            body.append(psi_chart([w.label for w in shown], [w.score_psi for w in shown],
                                  [w.score_light for w in shown], thresholds,
                                  f"Score PSI {KIND_TITLES.get(kind, kind).lower()}"))
        body.append(_table(["window", "version", "rows", "score PSI", "light", "worst CSI", "feature", "light",
                             "window light", "score PSI critical (1%)"], [
            f'<tr data-window="{escape(w.label)}"><td>{escape(w.label)}</td><td>v{escape(w.model_version)}</td>'
            f'<td class="n">{w.rows:,}</td><td class="n">{_num(w.score_psi)}</td>{_light(w.score_light)}'
            f'<td class="n">{_num(w.worst_csi)}</td><td>{escape(w.worst_csi_feature or "—")}</td>'
            f'{_light(w.worst_csi_light)}{_light(w.light)}<td class="n">{_num(w.score_critical)}</td></tr>'
            for w in reversed(shown)],
            "Nothing monitored yet."))

    body.append("<h2>Alerts sent</h2>")
    body.append(_table(["sent", "what", "window", "version", "light", "subject"], [
        f"<tr><td>{escape(a.sent_at)}</td><td>{escape(a.what)}</td><td>{escape(a.kind)} {a.start}</td>"
        f"<td>v{escape(a.model_version)}</td>{_light(a.light)}<td>{escape(a.subject)}</td></tr>"
        for a in alerts], "No alert sent."))

    body.append(f"<h2>Fairness: adverse impact ratio by group (red: the ratio and its whole 95% interval below "
                f"{min_ratio:g}; amber: the ratio only)</h2>")
    body.append(_table(["window", "group", "ratio", "95% interval", "light"], [
        f"<tr><td>{escape(r.kind)} {r.start}</td><td>{escape(r.group)}</td><td class='n'>{_num(r.ratio, 3)}</td>"
        f"<td class='n'>{_num(r.low, 3)} – {_num(r.high, 3)}</td>{_light(r.light)}</tr>"
        for r in reversed(ratios)], "No fairness ratios in the history (the spec declares no attributes, or "
                                    "nothing was scored)."))
    if mlflow_href:
        body.append(f'<p class="muted">Registry: <a href="{escape(mlflow_href)}">MLflow</a></p>')
    return _page(f"{dataset} monitoring", "".join(body))


def review_page(model: str, version: str, files: Sequence[tuple[str, str, str | None, str]],
                mlflow_href: str | None, back: Link) -> str:
    """A version's review files: (name, SHA-256 served, SHA-256 recorded, href) each, the hash check beside."""
    rows = []
    for name, sha, recorded, href in files:
        if recorded is None:
            check = '<span class="muted">no hash recorded on the version</span>'
        elif recorded == sha:
            check = '<span class="ok">matches the SHA-256 recorded at registration</span>'
        else:
            check = (f'<span class="bad">DOES NOT MATCH the recorded SHA-256 <code>{escape(recorded)}</code>: '
                     "this is not the report the version was registered with</span>")
        rows.append(f'<tr><td><a href="{escape(href)}">{escape(name)}</a></td><td><code>{escape(sha)}</code></td>'
                    f"<td>{check}</td></tr>")
    mlflow = f' · <a href="{escape(mlflow_href)}">the version in MLflow</a>' if mlflow_href else ""
    return _page(f"{model} v{version}: review", f"<h1>{escape(model)} v{escape(version)}: what you approve</h1>"
                 + _table(["file", "SHA-256", "check"], rows, "This version's run holds no report.")
                 + f'<p><a href="{escape(back.href)}">{escape(back.text)}</a>{mlflow}</p>')
