"""Sections 7 to 9 of the technical file (oversight, monitoring, change log) and the whole file from its sources
(pure, but for rendering the PDF)."""

from __future__ import annotations

from ml.governance.technical_file.sections import data, design, features, purpose
from ml.governance.technical_file.sources import Sources
from ml.governance.technical_file.validation import limitations, validation
from reports.technical_file import SECTION_TITLES, Lines, Rows, Section, TechnicalFileData
from reports.technical_file import render_technical_file as _render


def oversight(s: Sources) -> Section:
    spec, summary = s.spec, s.summary
    quorum = summary.quorum
    fallback = spec.oversight.fallback
    ds = spec.name
    lines = [
        f"Who approves: the approvers (RISKOPS_APPROVER_USERS) in Airflow's approval task of retrain_{ds}, or with "
        f"python -m ml promote; {quorum} distinct approver(s) must approve, each approval bound to the report's and "
        "the model files' SHA-256; a rejection by any approver ends it.",
        "With RISKOPS_SEPARATE_DUTIES=on, whoever triggered the retraining or trained the version may not approve it.",
        f"Halt: python -m ml halt --dataset {ds} (or the halt DAG) stops the model at once; while halted, "
        + (f"scoring applies the fallback policy ({fallback.describe()})." if fallback else
           "scoring refuses (the spec has no fallback policy)."),
        f"Roll back: the rollback_{ds} DAG (or python -m ml rollback) re-promotes an earlier champion through the "
        "same quorum of approvers.",
        f"Every promotion, rollback, halt and resume is a line of the champion history (python -m ml champions "
        f"--dataset {ds}).",
    ]
    return Section(7, SECTION_TITLES[6], [Lines(lines)])


def monitoring(s: Sources) -> Section:
    mon, spec = s.spec.monitoring, s.spec
    rows = [
        ["Score PSI, feature CSI", "after every scoring run; by day, ISO week and month",
         f"amber {mon.psi.amber:g}, red {mon.psi.red:g}", "risk team (alert mail, weekly PDF)",
         f"{mon.retrain_on_red_features} red features request a retraining"],
        ["KS of numeric features", "after every scoring run", f"amber {mon.ks.amber:g}, red {mon.ks.red:g}",
         "risk team", "counted as red features"],
        ["Jensen-Shannon distance", "after every scoring run", f"amber {mon.js.amber:g}, red {mon.js.red:g}",
         "risk team", "counted as red features"],
        ["Approval rate and adverse impact ratio by group", "after every scoring run",
         f"ratio below {spec.fairness.min_ratio:g}", "risk team (fairness alert)", "a review of the model"],
        ["Backtest: AUC, calibration by band (Jeffreys), default rates by group",
         f"weekly, on outcomes matured {spec.label.maturity_lag_days} days", f"alpha {mon.backtest.alpha:g}, "
         f"at most {mon.backtest.max_rejected_bands} band(s) rejected", "risk team (PDF)", "an alert"],
        ["Retraining", "monthly, or requested by drift", "the verdict's rules", "approvers (candidate mail)",
         "a new candidate for approval"],
        ["Model review", f"every {spec.documentation.review_period_days} days", "the inventory's next review date",
         "risk team (weekly overdue mail)", "python -m ml inventory marks it overdue"],
    ]
    table = Rows(["What is checked", "When", "Thresholds", "Who is mailed", "What it triggers"], rows,
                 widths=[0.22, 0.2, 0.18, 0.2, 0.2])
    return Section(8, SECTION_TITLES[7], [table, Lines([f"Windows with fewer than {mon.min_rows} rows are shown as "
                                                        "too few rows, not judged."])])


def change_log(s: Sources) -> Section:
    rows = []
    for v in s.versions:
        decided = "; ".join(f"{e.get('action', '?')} by {e.get('by', '?')} at {e.get('at', '?')}"
                            for e in v["decisions"]) or "registered"
        rows.append([f"v{v['version']}", v["as_of"], v["verdict"], decided])
    versions = Rows(["Version", "As of", "Verdict", "Decisions before this registration"], rows,
                    title="Versions of this dataset's model", widths=[0.1, 0.13, 0.19, 0.58])
    events = Rows(["When", "Event", "Version", "By", "Why"],
                  [[e["at"], e["action"], e["version"], e["by"], e["why"]] for e in s.champion_events],
                  title="Champion history", widths=[0.24, 0.16, 0.1, 0.18, 0.32])
    return Section(9, SECTION_TITLES[8], [versions, events])


def build(s: Sources) -> TechnicalFileData:
    """The renderer's data: each of the nine sections filled from the sources (pure)."""
    summary = s.summary
    identity = [
        ("Model", f"{summary.model_name} version {summary.version}"),
        ("MLflow run", summary.run_id),
        ("Registered at", summary.registered_at),
        ("As-of date", summary.as_of),
        ("Verdict", summary.verdict),
        ("Model files SHA-256", summary.model_sha256),
        ("Candidate report SHA-256", summary.report_sha256),
        ("Data hash (SHA-256)", summary.data_hash),
    ]
    sections = [purpose(s), data(s), features(s), design(s), validation(s), limitations(s), oversight(s),
                monitoring(s), change_log(s)]
    return TechnicalFileData(dataset=s.spec.name, model_name=summary.model_name, version=summary.version,
                             run_id=summary.run_id, generated_at=summary.registered_at, identity=identity,
                             sections=sections)


def render(s: Sources) -> bytes:
    """The technical file's PDF bytes."""
    return _render(build(s))
