"""The README's demo end to end: real airflow standalone, triggered DAG runs, printed accounting; twice."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[1]



def _run_demo(home: Path, airflow_port: int, smtp_port: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_DATA", "MLFLOW_"))}
    env.update({"RISKOPS_HOME": str(home), "RISKOPS_DEMO_DAYS": "4", "RISKOPS_SPECS": str(REPO / "datasets")})
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--port", str(airflow_port),
                           "--smtp-port", str(smtp_port)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


PREPROCESS_ZONES = ("landing", "labels", "curated", "quarantine", "manifests/preprocess")


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_is_rerunnable(tmp_path):
    home = tmp_path / "var"
    first = _run_demo(home, free_port(), free_port())
    assert "preprocess runs: 12/12 succeeded, 0 failed" in first
    for dataset in ("give_me_some_credit", "bank_marketing", "card_transactions"):
        assert f"  {dataset}  (date: rows landed / clean / quarantined)" in first
    # GMSC is spread over the window: every one of its 150,000 rows is accounted for
    assert "total     : 150000 / 149999 /    1" in first
    manifests = sorted((home / "data" / "manifests" / "preprocess").rglob("*.json"))
    assert len(manifests) == 12
    for path in manifests:
        m = json.loads(path.read_text())
        assert m["rows_in"] == m["rows_clean"] + m["rows_quarantined"] > 0
    # retrain: a PDF in the sink's outbox, promoted through the Airflow approval, then scored
    (mail,) = (home / "outbox").glob("*.eml")
    (attachment,) = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default).iter_attachments()
    assert attachment.get_filename() == "riskops-give_me_some_credit-v1.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert "riskops-give_me_some_credit version 1: stage Production, alias champion; approved by risk-approver" in first
    score_manifests = sorted((home / "data" / "manifests" / "score" / "give_me_some_credit").rglob("*.json"))
    assert len(score_manifests) == 4
    delinquent = 0  # rows the GMSC spec's serious-delinquency rule declines, whatever the model says
    for path in score_manifests:
        m = json.loads(path.read_text())
        assert m["model_version"] == "1" and m["rows_scored"] == m["rows_in"] == sum(m["decisions"].values())
        assert m["decisions"]["decline"] >= m["hard_rules"]["HR02-SERIOUS-DELINQUENCY"]
        delinquent += m["hard_rules"]["HR02-SERIOUS-DELINQUENCY"]
    assert delinquent > 0

    zones_before = {z: _snapshot(home / "data" / z) for z in PREPROCESS_ZONES}
    second = _run_demo(home, free_port(), free_port())
    assert "preprocess runs: 12/12 succeeded, 0 failed" in second
    # same files, same sizes: re-running duplicated nothing
    assert {z: _snapshot(home / "data" / z) for z in PREPROCESS_ZONES} == zones_before
    assert "riskops-give_me_some_credit version 2: stage Production" in second  # the re-run's candidate
    leftovers = subprocess.run(["pgrep", "-f", f"AIRFLOW_HOME={home}"], capture_output=True)
    assert leftovers.stdout == b""
