"""The production path, run for real on this machine: the stack `make stack` starts (demo.stack: moto's S3
server, MLflow with basic-auth on PostgreSQL and artifacts proxied to S3, Airflow's four components on
PostgreSQL, configured from docker-compose.yaml), with RISKOPS_DATA=s3://... The flow and its checks are
demo.production_flow's, the same that `make compose-check` runs on the compose stack in Docker: landing files
in the bucket; preprocess -> retrain -> approval (an approver through the REST API) -> score -> stability (by
the scores Asset) -> weekly backtest as real DAG runs; then the bucket, the history on PostgreSQL, MLflow's
registry (its REST API, as the platform's user), the mails and the logs, and the refusals: the platform cannot
approve in Airflow, an approver cannot move a stage in MLflow, nobody unauthenticated reads MLflow.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from demo.production_flow import Clock, check_all, read_mails, run_flow
from demo.stack import Stack

REPO = Path(__file__).resolve().parents[1]


@dataclass
class StackPlatform:
    """demo.production_flow's view of `make stack`'s processes."""

    stack: Stack

    @property
    def airflow(self):
        return self.stack.airflow

    @property
    def history_url(self) -> str:
        return self.stack.airflow.env["RISKOPS_HISTORY_URL"]

    @property
    def airflow_public_url(self) -> str:
        return self.stack.url("airflow")

    @property
    def secrets(self) -> dict[str, str]:
        env, secrets = self.stack.airflow.env, self.stack.variables
        # the platform's credentials are the stack's (what a compose .env sets)
        assert env["AWS_SECRET_ACCESS_KEY"] == secrets["MINIO_ROOT_PASSWORD"]
        assert env["MLFLOW_TRACKING_PASSWORD"] == secrets["MLFLOW_PLATFORM_PASSWORD"]
        return dict(secrets)

    def url(self, name: str) -> str:
        return self.stack.url(name)

    def s3_client(self) -> Any:
        return self.stack.s3_client()

    def mlflow_users(self) -> dict[str, tuple[str, str]]:
        env, users = self.stack.airflow.env, self.stack.users_env()
        return {"platform": (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]),
                "approver": (users["MLFLOW_APPROVER_USER"], users["MLFLOW_APPROVER_PASSWORD"])}

    def land(self, args: list[str]) -> None:
        # the CLI on this machine with a task's environment
        subprocess.run([sys.executable, "-m", "ml", *args], env=self.stack.airflow.env, cwd=REPO, check=True,
                       capture_output=True)

    def mails(self) -> list[EmailMessage]:
        return read_mails(list((self.stack.home / "outbox").glob("*.eml")))

    def logs(self) -> list[Path]:
        folders = (self.stack.airflow.airflow_home / "logs", self.stack.home / "logs")
        return [p for folder in folders for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_the_production_path_on_s3_mlflow_server_and_airflow_on_postgres(tmp_path):
    clock = Clock()
    stack = Stack(tmp_path / "stack")
    try:
        stack.start()
        clock.lap("start-up")
        assert stack.airflow.env["RISKOPS_DATA"] == "s3://riskops/data"
        platform = StackPlatform(stack)
        run_flow(platform, clock)
        check_all(platform, clock)
    finally:
        stack.stop()
        clock.lap("stop")
        print(f"\nproduction-like run: {clock}")
