"""Every mail riskops composes, subject and HTML body, from the data it tells about: the candidate's report, the
requests for the next approval of a quorum, reminders and rollback requests to the approvers; the confirmation
of a promotion to the approvers and the risk team; the stability
alert, fairness alert, weekly stability report and backtest report to the risk team; a halt or resume of a
model to the on-call and the risk team. The Airflow side (riskops_airflow.notify) only sends them, with their
attachments.

The failure mail is not here: it is a Jinja template of Airflow's task context, rendered by Airflow's
SmtpNotifier when a task fails (riskops_airflow.notify.failure_notifier).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ml.bins import AMBER, RED
from ml.governance.candidate import CandidateSummary, Metrics
from ml.governance.requests import RollbackPlan
from reports.palette import LIGHT_BACKGROUNDS

if TYPE_CHECKING:
    from ml.monitor.backtest_results import BacktestResult
    from ml.monitor.stability import Stat
    from ml.spec import Fairness, Monitoring

ALERT_CHART = "drift.png"  # the alert chart's attachment name; the HTML shows it inline as cid:drift.png
TABLE = "<table border='1' cellspacing='0' cellpadding='4'>"


@dataclass(frozen=True)
class Mail:
    subject: str
    html: str


# ------------------------------------------------------------------------------------ to the approvers

def _auc(metrics: Metrics) -> str:
    """The AUC with its 95% interval (candidates registered before intervals were recorded: the AUC alone)."""
    interval = (f", 95% CI {metrics.auc_low:.4f} to {metrics.auc_high:.4f}"
                if metrics.auc_low is not None and metrics.auc_high is not None else "")
    return f"AUC {metrics.auc:.4f}{interval}"


def required_actions_url(base_url: str, dag_id: str, run_id: str, task_id: str | None = None) -> str:
    """The page of Airflow's UI where an approver answers a run's approvals (or one task's: the path
    HITLOperator.generate_link_to_ui builds), under Airflow's address `base_url`."""
    task = f"/tasks/{quote(task_id, safe='')}" if task_id else ""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe=':+')}{task}/required_actions"


def _link(url: str) -> str:
    return f"<a href='{html.escape(url)}'>{html.escape(url)}</a>"


def candidate(summary: CandidateSummary, approval_url: str, technical_file_url: str | None = None) -> Mail:
    """The mail that takes a candidate's report to the approvers, from the candidate's summary
    (candidates/<ds>/v=V/candidate.json); `approval_url` is the approval's page in Airflow, `technical_file_url`
    where its technical file is stored."""
    m, c = summary.metrics, summary.champion_metrics
    champion = (f"champion v{summary.champion_version}: {_auc(c)}, KS {c.ks:.4f}"
                if c else "no champion yet: this would be the first Production model")
    subject = (f"[riskops] {summary.model_name} v{summary.version} candidate: "
               f"{summary.verdict.upper()} ({_auc(m)})")
    # a window that lost days says so right after the verdict
    gaps = "".join(f"<p><b>Data window incomplete:</b> {html.escape(gap)}.</p>" for gap in summary.gaps)
    body = (
        f"<p>A new candidate for <b>{html.escape(summary.dataset)}</b> is waiting for your decision.</p>"
        f"<p>Verdict: <b>{html.escape(summary.verdict)}</b> &mdash; {html.escape(summary.verdict_reason)}</p>"
        + gaps +
        f"<ul><li>{html.escape(summary.model_name)} v{summary.version} (MLflow run {summary.run_id})</li>"
        f"<li>out-of-time {_auc(m)}, KS {m.ks:.4f}, threshold {summary.threshold:.4f}"
        + (f", on {m.n} test rows with {m.positives} positive outcomes" if m.positives is not None else "") + "</li>"
        f"<li>{html.escape(champion)}</li>"
        f"<li>report SHA-256 {summary.report_sha256}</li>"
        f"<li>model files SHA-256 {summary.model_sha256} (checked before every scoring run)</li>"
        + (f"<li>technical file {html.escape(technical_file_url or str(summary.technical_file_key))}, SHA-256 "
           f"{summary.technical_file_sha256}</li>" if summary.technical_file_sha256 else "")
        + (f"<li>supersedes the waiting candidate(s) v{', v'.join(summary.superseded)}, whose approval "
           "is closed</li>" if summary.superseded else "")
        + (f"<li>requested by stability monitoring: {html.escape(summary.trigger)}</li>"
           if summary.trigger else "")
        + (f"<li>champion history: {html.escape(summary.champion_line)}</li>"
           if summary.champion_line else "")
        + (f"<li>four eyes: {summary.quorum} distinct approvers must approve it before it is promoted; a "
           "rejection by any of them ends it</li>" if summary.quorum > 1 else "")
        + "</ul>"
        f"<p>The full report is attached. Approve or reject in Airflow, on the approval's page: "
        f"{_link(approval_url)} (Required Actions of DAG retrain_{html.escape(summary.dataset)}, task "
        "<i>approval</i>).</p>"
    )
    return Mail(subject, body)


def _approved_so_far(approved: Sequence[str], quorum: int) -> str:
    given = f"approved so far by {', '.join(approved)}" if approved else "no approval yet"
    return f"{len(approved)} of {quorum} approvals ({given})"


def approval_request(what: str, dataset: str, dag_id: str, report_sha256: str, approved: Sequence[str], quorum: int,
                     approval_url: str) -> Mail:
    """The mail asking the approvers who have not approved yet for the next approval of a quorum (four eyes):
    `what` is the decision ("the promotion of riskops-x v3", "the rollback of riskops-x to v1"), `approval_url`
    the gate's page in Airflow."""
    subject = f"[riskops] approval {len(approved) + 1} of {quorum} needed: {what}"
    body = (f"<p>{html.escape(what[0].upper() + what[1:])} ({html.escape(dataset)}) needs {quorum} distinct "
            f"approvers: {html.escape(_approved_so_far(approved, quorum))}.</p>"
            f"<p>Approvals are bound to the report with SHA-256 {html.escape(report_sha256)}; whoever approved "
            "already is not asked again, and a rejection by any approver ends it. Decide in Airflow: "
            f"{_link(approval_url)} (DAG {html.escape(dag_id)}, Required Actions).</p>")
    return Mail(subject, body)


def approval_reminder(what: str, dataset: str, since: str, approved: Sequence[str], quorum: int, dag_id: str,
                      run_id: str, approval_url: str) -> Mail:
    """The reminder of a decision still waiting when its DAG run's deadline passed (Airflow's deadline alert):
    `what` as for `approval_request`, `since` when the run started waiting, `approval_url` the run's Required
    Actions in Airflow."""
    subject = f"[riskops] reminder: {what} still waits for a decision ({len(approved)} of {quorum} approvals)"
    body = (f"<p>{html.escape(what[0].upper() + what[1:])} ({html.escape(dataset)}) has waited for a decision since "
            f"{html.escape(since)}: {html.escape(_approved_so_far(approved, quorum))}.</p>"
            f"<p>Decide in Airflow: {_link(approval_url)} (DAG {html.escape(dag_id)}, run {html.escape(run_id)}, "
            "Required Actions).</p>")
    return Mail(subject, body)


def rollback_request(dataset: str, model_name: str, target: RollbackPlan, champion: str, requested_by: str,
                     reason: str, quorum: int, airflow_url: str) -> Mail:
    """The mail asking the approvers to decide on a rollback to an earlier champion (`target`: version, the
    champion-history line that made it the champion, its report's SHA-256)."""
    subject = (f"[riskops] rollback of {model_name} from v{champion} to v{target.version} requested by "
               f"{requested_by}")
    body = (f"<p>{html.escape(requested_by)} asks to roll <b>{html.escape(dataset)}</b> back from version "
            f"{html.escape(champion)} (the champion) to version {html.escape(target.version)}: "
            f"{html.escape(reason)}</p>"
            f"<ul><li>when version {html.escape(target.version)} was the champion: "
            f"{html.escape(target.line or 'not in the champion history')}</li>"
            f"<li>its report SHA-256 {html.escape(target.report_sha256)} (approvals are bound to it)</li>"
            f"<li>{quorum} distinct approver(s) must approve; a rejection by any declines the rollback, and version "
            f"{html.escape(champion)} stays the champion</li></ul>"
            f"<p>Decide in Airflow: {html.escape(airflow_url)} (DAG rollback_{html.escape(dataset)}, Required "
            "Actions). The next scoring run after the rollback uses the restored version.</p>")
    return Mail(subject, body)


def promoted(dataset: str, model_name: str, version: str, audit: Mapping[str, str]) -> Mail:
    """The confirmation to the approvers and the risk team that a version became the champion (`audit`: the
    version's riskops tags: approved_by, promoted_at, approval_note, previous_champion, report_sha256)."""
    previous = audit.get("previous_champion", "none")
    replaces = f"It replaces version {previous}, now archived." if previous not in ("", "none") else \
        "It is the first Production model of this dataset."
    note = audit.get("approval_note") or ""
    return Mail(f"[riskops] {model_name} v{version} promoted to Production (alias champion), approved by "
                f"{audit.get('approved_by', '?')}",
                f"<p>Version {html.escape(version)} of {html.escape(model_name)} (<b>{html.escape(dataset)}</b>) is "
                f"the champion since {html.escape(audit.get('promoted_at', '?'))}: approved by "
                f"{html.escape(audit.get('approved_by', '?'))}" + (f" ({html.escape(note)})" if note else "")
                + f". {html.escape(replaces)} The next scoring run uses it.</p>"
                f"<ul><li>the approved report's SHA-256 {html.escape(audit.get('report_sha256', '?'))}</li>"
                f"<li>champion history: <code>python -m ml champions --dataset {html.escape(dataset)}</code>; "
                f"to go back: <code>python -m ml rollback --dataset {html.escape(dataset)}</code> (or the DAG "
                f"rollback_{html.escape(dataset)}), which needs the approvers again</li></ul>")


# ------------------------------------------------------------------------------------ to the on-call

def halt(dataset: str, model_name: str, state: Mapping[str, str], fallback: str | None) -> Mail:
    """The mail to the on-call and the risk team when an approver halts a dataset's model (`state`: by, at,
    reason, version); `fallback` is the spec's fallback policy in words, None when it has none."""
    version = state["version"]
    stopped = f"version {version}" if version != "none" else "no champion yet"
    what = (f"Until it is resumed, scoring decides every row of {html.escape(dataset)} by the fallback policy "
            f"(<b>{html.escape(fallback)}</b>); the score files and manifests say so on every row (policy "
            "<i>fallback</i>), and monitoring leaves those days out." if fallback else
            f"The spec of {html.escape(dataset)} has no fallback policy: until it is resumed, every scoring run "
            "refuses with one line and <b>nothing is scored</b>.")
    return Mail(f"[riskops] {model_name} HALTED by {state['by']}: {state['reason'][:120]}",
                f"<p><b>{html.escape(state['by'])}</b> halted {html.escape(model_name)} ({html.escape(stopped)}) at "
                f"{html.escape(state['at'])}: {html.escape(state['reason'])}</p><p>{what}</p>"
                "<p>An approver resumes it with <code>python -m ml resume --dataset "
                f"{html.escape(dataset)} --approver NAME --reason WHY</code> (or the DAG resume_"
                f"{html.escape(dataset)}); the champion history (<code>python -m ml champions --dataset "
                f"{html.escape(dataset)}</code>) records both.</p>")


def resume(dataset: str, model_name: str, event: Mapping[str, Any]) -> Mail:
    """The mail to the on-call and the risk team when an approver resumes a halted model (`event`: the resume's
    champion-history line as a dict, with the `halt` it lifts)."""
    halt_state = event["halt"]
    version = event["version"]
    scores = (f"version {version} scores again from the next scoring run" if version != "none"
              else "there is no champion yet: nothing scores until one is approved")
    return Mail(f"[riskops] {model_name} resumed by {event['by']}",
                f"<p><b>{html.escape(str(event['by']))}</b> resumed {html.escape(model_name)} at "
                f"{html.escape(str(event['at']))}: {html.escape(str(event['why']))}</p>"
                f"<p>It had been halted by {html.escape(halt_state['by'])} since {html.escape(halt_state['at'])}: "
                f"{html.escape(halt_state['reason'])}. Now {html.escape(scores)}; days decided by the fallback "
                f"policy meanwhile can be scored again with the model (<code>python -m ml score --dataset "
                f"{html.escape(dataset)} --date D</code>).</p>")


# ------------------------------------------------------------------------------------ to the risk team

@dataclass(frozen=True)
class DriftingFeature:
    """A drifting feature of an alert's worst window: its CSI, KS and JS (None where it has none) and the
    categories the model never saw, with their rows."""

    name: str
    statistics: tuple[Stat | None, Stat | None, Stat | None]
    unseen: Mapping[str, int]


def window_label(kind: str, start: object) -> str:
    """How mails and charts name a window: 'day 2026-09-21', 'week of 2026-09-21'."""
    return f"{kind} {start}" if kind == "day" else f"{kind} of {start}"


def _cell(text: str, light: str | None = None) -> str:
    style = f' style="background:{LIGHT_BACKGROUNDS[light]}"' if light in LIGHT_BACKGROUNDS else ""
    return f"<td{style}>{html.escape(text)}</td>"


def _figure(stat: Stat | None) -> tuple[str, str | None]:
    """A statistic as a cell shows it (value, p-value, light) and the light that colours the cell."""
    if stat is None:
        return "—", None
    if stat.value is None:
        return stat.detail.get("note", "—"), None
    text = f"{stat.value:.4f}"
    if "p_value" in stat.detail:
        text += f" (p {stat.detail['p_value']:.2g})"
    elif stat.detail.get("critical") is not None:
        text += f" (critical {stat.detail['critical']:.4f})"
    return f"{text} {stat.light or ''}".strip(), stat.light


def _window_row(w: Mapping[str, Any]) -> str:
    psi = "—" if w["score_psi"] is None else f"{w['score_psi']:.4f} {w['score_light'] or ''}".strip()
    if w["score_psi"] is not None and w.get("score_critical") is not None:
        psi += f" (critical {w['score_critical']:.4f})"
    red, amber = w["red"], w["amber"]
    return ("<tr>" + _cell(window_label(w["kind"], w["start"])) + _cell(f"v{w['model_version']}")
            + _cell(f"{int(w['rows']):,}") + _cell(psi, w["score_light"] if w["score_psi"] is not None else None)
            + _cell(", ".join(red) or "—", RED if red else None)
            + _cell(", ".join(amber) or "—", AMBER if amber else None) + _cell(w["light"] or "", w["light"])
            + "</tr>")


def _feature_row(feature: DriftingFeature) -> str:
    return ("<tr>" + _cell(feature.name) + "".join(_cell(*_figure(s)) for s in feature.statistics)
            + _cell(", ".join(f"{k} ({v})" for k, v in feature.unseen.items()) or "—") + "</tr>")


def stability_alert(dataset: str, windows: Sequence[Mapping[str, Any]], worst: Mapping[str, Any],
                    features: Sequence[DriftingFeature], monitoring: Monitoring) -> Mail:
    """The alert for the windows of one stability run that turned amber or red (as `Window.summary()` gives
    them), naming the worst one and its drifting features, with the thresholds they were graded by."""
    level = "RED" if any(w["light"] == RED for w in windows) else "AMBER"
    first = min(w["start"] for w in windows)
    worst_label = window_label(worst["kind"], worst["start"])
    subject = (f"[riskops] {dataset} stability {level}: {len(windows)} window(s) {first} .. "
               f"{max(w['start'] for w in windows)}; worst {worst_label} (model v{worst['model_version']}): "
               f"score PSI {worst['score_psi']:.4f}, {len(features)} drifting feature(s)")
    m = monitoring
    rows = "".join(_window_row(w) for w in sorted(windows, key=lambda w: (w["start"], w["kind"])))
    body = (
        f"<p>The population scored for <b>{html.escape(dataset)}</b> has moved away from the reference its "
        f"model was built on. {len(windows)} window(s) turned amber or red:</p>"
        f"{TABLE}<tr><th>Window</th><th>Model</th><th>Rows</th>"
        "<th>Score PSI</th><th>Red features</th><th>Amber features</th><th>Overall</th></tr>" + rows + "</table>"
        f"<p>Drifting features of the worst window, {html.escape(worst_label)} (model v{worst['model_version']}):</p>"
        f"{TABLE}<tr><th>Feature</th><th>CSI</th><th>KS (p-value)</th>"
        "<th>JS distance</th><th>Unseen categories</th></tr>" + "".join(_feature_row(f) for f in features) + "</table>"
        f"<p><img src='cid:{ALERT_CHART}' alt='reference vs current distributions'></p>"
        f"<p>Thresholds (amber / red): PSI and CSI {m.psi.amber:g} / {m.psi.red:g}, KS {m.ks.amber:g} / "
        f"{m.ks.red:g}, JS {m.js.amber:g} / {m.js.red:g}; a statistic is amber or red only when it also exceeds "
        "its critical value, what no change would exceed with 1% probability at the window's rows (chi-square "
        "with B-1 degrees of freedom scaled by 1/n + 1/m for PSI, CSI and JS; p &lt; 1% for KS); a feature takes "
        "the worst light of its statistics. "
        f"History: <code>python -m ml history --dataset {html.escape(dataset)} --since "
        f"{first}</code>; the weekly stability report has the trends.</p>")
    return Mail(subject, body)


def _red_groups(window: Mapping[str, Any]) -> list[str]:
    """The groups a red fairness window is red for (a summary written before the evidence rule lists "below")."""
    red = window.get("red")
    return list(window["below"] if red is None else red)


def fairness_alert(dataset: str, windows: Sequence[Mapping[str, Any]], fairness: Fairness) -> Mail:
    """The alert for the windows of one stability run in which a group's adverse impact ratio fell below the
    minimum (as `FairWindow.summary()` gives them), each with its groups."""
    first, last = min(w["start"] for w in windows), max(w["start"] for w in windows)
    groups = sorted({line.split(":")[0] for w in windows for line in _red_groups(w)})
    subject = (f"[riskops] {dataset} fair lending RED: adverse impact ratio below {fairness.min_ratio:g} in "
               f"{len(windows)} window(s) {first} .. {last} ({'; '.join(groups)})")
    rows = "".join("<tr>" + _cell(window_label(w["kind"], w["start"])) + _cell(f"v{w['model_version']}")
                   + _cell("; ".join(_red_groups(w)), RED) + "</tr>"
                   for w in sorted(windows, key=lambda w: (w["start"], w["kind"])))
    body = (
        f"<p>The nightly decisions for <b>{html.escape(dataset)}</b> approve a group at less than "
        f"{fairness.min_ratio:g} times the rate of its reference group (adverse impact ratio, 95% interval in "
        f"brackets) in {len(windows)} window(s), and the whole interval lies below it:</p>"
        f"{TABLE}<tr><th>Window</th><th>Model</th><th>Groups below the minimum</th></tr>" + rows + "</table>"
        f"<p>A window is red only when a group's ratio and its whole 95% interval (Katz's log interval at the "
        "window's rows) lie below the minimum; a ratio below it whose interval reaches above is amber and not "
        f"mailed. Groups with fewer than {fairness.min_group_rows} rows are not judged. History: <code>python -m ml "
        f"history --dataset {html.escape(dataset)} --statistic group_impact_ratio --since {first}</code>; the "
        "weekly stability report has the ratios over time.</p>")
    return Mail(subject, body)


def weekly_stability(dataset: str, week: str, model_version: str) -> Mail:
    """The mail that takes a week's stability report to the risk team."""
    return Mail(f"[riskops] {dataset} weekly stability report {week}",
                f"<p>The weekly stability report of <b>{html.escape(dataset)}</b> for {week} "
                f"(model v{html.escape(model_version)}) is attached: score PSI by day and week, "
                "CSI by feature and week, the most drifted features, decisions and data quality by day.</p>")


def backtest(result: BacktestResult, report_url: str) -> Mail:
    """The mail that takes a backtest's report to the risk team, alerts first."""
    alerts = result.alerts
    verdict = f"{len(alerts)} ALERT(S)" if alerts else "no alert"
    lines = [f"<li>{html.escape(a)}</li>" for a in alerts] or ["<li>no alert</li>"]
    figures = [f"<li>version {v.version}, weeks {v.weeks[0]}..{v.weeks[-1]}: {v.performance.rows:,} matured rows, "
               f"AUC {v.performance.auc:.4f}, KS {v.performance.ks:.4f}, default rate "
               f"{v.performance.default_rate:.2%} vs mean PD {v.performance.mean_pd:.2%}</li>" for v in result.versions]
    notes = "".join(f"<p>{html.escape(n)}</p>" for n in result.notes)
    return Mail(f"[riskops] {result.dataset} backtest as of {result.as_of}: {verdict}",
                f"<p>The weekly backtest of <b>{html.escape(result.dataset)}</b> as of {result.as_of} "
                f"(outcomes matured up to {result.last_matured_day}) is attached.</p>"
                f"<p>Alerts:</p><ul>{''.join(lines)}</ul>"
                + (f"<p>Realised performance:</p><ul>{''.join(figures)}</ul>" if figures else "")
                + notes + f"<p>Stored at {html.escape(report_url)}</p>")


def overdue_reviews(as_of: str, entries: Sequence[Mapping[str, Any]]) -> Mail:
    """The weekly mail to the risk team naming the champions whose review is overdue (`entries`: inventory lines,
    `ml.monitor.inventory.Entry.to_dict`)."""
    subject = f"[riskops] {len(entries)} model review(s) overdue as of {as_of}"
    rows = "".join(
        f"<tr><td>{html.escape(str(e['dataset']))}</td><td>{html.escape(str(e['model_name']))} "
        f"v{html.escape(str(e['champion']))}</td><td>{html.escape(str(e['since'])[:10])}</td>"
        f"<td>{html.escape(str(e['approved_by']))}</td><td>{html.escape(str(e['next_review']))}</td></tr>"
        for e in entries)
    body = (f"<p>These champions were due for their periodic review (the spec's documentation.review_period_days "
            f"from the day they became the champion) before {html.escape(as_of)}:</p>"
            "<table><tr><th>Dataset</th><th>Champion</th><th>Since</th><th>Approved by</th><th>Review due</th></tr>"
            f"{rows}</table><p>Review each model (its technical file is stored with its version) and either approve "
            "a new candidate or record the review; <code>python -m ml inventory</code> lists every model.</p>")
    return Mail(subject, body)

