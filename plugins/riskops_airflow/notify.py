"""Mail to approvers: the candidate's PDF report attached, subject with model, version and verdict."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any


def subject(candidate: dict[str, Any]) -> str:
    return (f"[riskops] {candidate['model_name']} v{candidate['version']} candidate: "
            f"{candidate['verdict'].upper()} (AUC {candidate['metrics']['auc']:.4f})")


def body(candidate: dict[str, Any], airflow_url: str) -> str:
    m, c = candidate["metrics"], candidate.get("champion_metrics")
    champion = (f"champion v{candidate['champion_version']}: AUC {c['auc']:.4f}, KS {c['ks']:.4f}"
                if c else "no champion yet: this would be the first Production model")
    return (
        f"<p>A new candidate for <b>{html.escape(candidate['dataset'])}</b> is waiting for your decision.</p>"
        f"<p>Verdict: <b>{html.escape(candidate['verdict'])}</b> &mdash; {html.escape(candidate['verdict_reason'])}</p>"
        f"<ul><li>{html.escape(candidate['model_name'])} v{candidate['version']} (MLflow run {candidate['run_id']})</li>"
        f"<li>out-of-time AUC {m['auc']:.4f}, KS {m['ks']:.4f}, threshold {candidate['threshold']:.4f}</li>"
        f"<li>{html.escape(champion)}</li>"
        f"<li>report SHA-256 {candidate['report_sha256']}</li>"
        f"<li>model files SHA-256 {candidate['model_sha256']} (checked before every scoring run)</li>"
        + (f"<li>supersedes the waiting candidate(s) v{', v'.join(candidate['superseded'])}, whose approval "
           "is closed</li>" if candidate.get("superseded") else "")
        + "</ul>"
        f"<p>The full report is attached. Approve or reject in Airflow: {html.escape(airflow_url)} "
        f"(DAG retrain_{html.escape(candidate['dataset'])}, task <i>approval</i>).</p>"
    )


def send_candidate_mail(dataset: str, run_key: str, conn_id: str = "smtp_default") -> dict[str, Any]:
    """Send the candidate that the retraining run `run_key` registered to the approvers; returns its summary
    for XCom."""
    from airflow.configuration import conf
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout
    from ml.config import Settings
    from ml.storage import Storage

    settings = Settings.from_env()
    storage = Storage(settings.data_url)
    candidate = storage.read_json(storage.read_json(layout.retrain_run(dataset, run_key))["candidate"])
    pdf = storage.read_bytes(candidate["report_key"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{candidate['model_name']}-v{candidate['version']}.pdf"
        path.write_bytes(pdf)
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            hook.send_email_smtp(to=list(settings.approvers), subject=subject(candidate),
                                 html_content=body(candidate, conf.get("api", "base_url", fallback="")),
                                 from_email=settings.mail_from, files=[str(path)])
    return {k: candidate[k] for k in ("dataset", "model_name", "version", "verdict", "report_sha256",
                                      "model_sha256", "run_id")}
