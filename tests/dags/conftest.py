"""What the real DAG runs share: a real SMTP server on localhost whose outbox the tests read."""

from __future__ import annotations

import pytest

from demo.smtp_sink import start as start_smtp
from tests.helpers import free_port


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    """A real SMTP server on a free port behind `smtp_default`, the risk team's and on-call addresses set;
    yields its outbox folder."""
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{port}?disable_tls=true&disable_ssl=true&timeout=10&retry_limit=1")
    monkeypatch.setenv("RISKOPS_RISK_TEAM", "risk-team@bank.example")
    monkeypatch.setenv("RISKOPS_ONCALL", "ops@bank.example")
    server = start_smtp(tmp_path / "outbox", port=port)
    yield tmp_path / "outbox"
    server.stop()
