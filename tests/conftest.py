"""Test environment: a private AIRFLOW_HOME with a real SQLite metadata DB, and a fresh data root per test.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="riskops-airflow-"))

os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "RISKOPS_SPECS": str(REPO / "datasets"),
    # nothing a test runs may write into the project's own var/ (the demo's home)
    "RISKOPS_HOME": tempfile.mkdtemp(prefix="riskops-home-"),
    "RISKOPS_TASK_MODE": "local",
})
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # INFO shows task subprocess output


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite) for real DAG runs."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root used by the code under test and by task subprocesses (they inherit the env)."""
    root = tmp_path / "data"
    monkeypatch.setenv("RISKOPS_DATA", str(root))
    return root
