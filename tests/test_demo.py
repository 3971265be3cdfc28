"""The README's demo end to end: real airflow standalone, triggered DAG runs, printed accounting; twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_demo(home: Path, airflow_port: int, smtp_port: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_DATA"))}
    env.update({"RISKOPS_HOME": str(home), "RISKOPS_DEMO_DAYS": "2", "RISKOPS_SPECS": str(REPO / "datasets")})
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--port", str(airflow_port),
                           "--smtp-port", str(smtp_port)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_is_rerunnable(tmp_path):
    home = tmp_path / "var"
    first = _run_demo(home, _free_port(), _free_port())
    assert "preprocess runs: 6/6 succeeded, 0 failed" in first
    for dataset in ("give_me_some_credit", "bank_marketing", "card_transactions"):
        assert f"  {dataset}  (date: rows landed / clean / quarantined)" in first
    # GMSC is spread over the window: every one of its 150,000 rows is accounted for
    assert "total     : 150000 / 149999 /    1" in first
    manifests = sorted((home / "data" / "manifests" / "preprocess").rglob("*.json"))
    assert len(manifests) == 6
    for path in manifests:
        m = json.loads(path.read_text())
        assert m["rows_in"] == m["rows_clean"] + m["rows_quarantined"] > 0
    assert (home / "mlflow" / "mlflow.db").exists()

    data_before = _snapshot(home / "data")
    second = _run_demo(home, _free_port(), _free_port())
    assert "preprocess runs: 6/6 succeeded, 0 failed" in second
    assert _snapshot(home / "data") == data_before  # same files, same sizes: nothing duplicated
    leftovers = subprocess.run(["pgrep", "-f", f"AIRFLOW_HOME={home}"], capture_output=True)
    assert leftovers.stdout == b""
