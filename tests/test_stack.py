"""The production path, run for real on this machine: the stack `make stack` starts (demo.stack: moto's S3
server, MLflow with basic-auth on PostgreSQL and artifacts proxied to S3, Airflow's four components on
PostgreSQL, configured from docker-compose.yaml), with RISKOPS_DATA=s3://... Landing files go into the
bucket; preprocess -> retrain -> approval (an approver through the REST API) -> score -> stability (by the
scores Asset) -> weekly backtest run as real DAG runs; then the bucket, the history on PostgreSQL, MLflow's
registry (its REST API, as the platform's user), the mail server and the logs are checked, and so are the refusals: the platform cannot approve in Airflow, an approver cannot move a
stage in MLflow, nobody unauthenticated reads MLflow.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from demo.airflow_runtime import WAITING_FOR_HUMAN, wait_for
from demo.stack import Stack

REPO = Path(__file__).resolve().parents[1]
DATASET = "card_transactions"
MODEL = f"riskops-{DATASET}"
START, DAYS = dt.date(2026, 9, 1), 8
DAYS_TRAINED = [START + dt.timedelta(days=i) for i in range(DAYS)]
AS_OF = DAYS_TRAINED[-1] + dt.timedelta(days=45)  # every label of the window has matured
SCORED = DAYS_TRAINED[-1] + dt.timedelta(days=1)  # the day after the training window, scored by the champion
CONF = {"window_days": DAYS, "valid_days": 2, "test_days": 2}
APPROVER = "risk-approver"


class Clock:
    """Wall time of each phase, printed at the end (pytest -s shows it)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.phases: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{n} {s:.0f} s" for n, s in self.phases) + f"; total {time.monotonic() - self.start:.0f} s"


def mlflow_get(stack: Stack, path: str, auth: tuple[str, str] | None, **params: str) -> httpx.Response:
    return httpx.get(f"{stack.url('mlflow')}/api/2.0/mlflow/{path}", params=params, auth=auth, timeout=30)


def mlflow_post(stack: Stack, path: str, auth: tuple[str, str], body: dict) -> httpx.Response:
    return httpx.post(f"{stack.url('mlflow')}/api/2.0/mlflow/{path}", json=body, auth=auth, timeout=30)


def bucket_keys(stack: Stack, bucket: str) -> list[str]:
    pages = stack.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.mark.slow
def test_the_production_path_on_s3_mlflow_server_and_airflow_on_postgres(tmp_path):
    clock = Clock()
    stack = Stack(tmp_path / "stack")
    try:
        stack.start()
        clock.lap("start-up")
        af, env = stack.airflow, stack.airflow.env
        platform = (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"])
        approver_mlflow = (stack.users_env()["MLFLOW_APPROVER_USER"], stack.users_env()["MLFLOW_APPROVER_PASSWORD"])
        assert env["RISKOPS_DATA"] == "s3://riskops/data"

        # a bank's feed lands the raw files (and later the labels) in the bucket: the CLI with a task's environment
        subprocess.run([sys.executable, "-m", "ml", "replay", "--dataset", DATASET, "--start", START.isoformat(),
                        "--end", SCORED.isoformat()], env=env, cwd=REPO, check=True, capture_output=True)
        wait_for(lambda: {f"preprocess_{DATASET}", f"retrain_{DATASET}", f"score_{DATASET}"} <= {
            d["dag_id"] for d in af.api("GET", "/dags", params={"limit": 100})["dags"]}, 120, "the DAGs to be parsed", 2)
        clock.lap("landing")

        runs = [af.trigger(f"preprocess_{DATASET}", d.isoformat()) for d in [*DAYS_TRAINED, SCORED]]
        for run_id in runs:
            assert af.wait_for_run(f"preprocess_{DATASET}", run_id, timeout=300) == "success"
        clock.lap(f"preprocess x{DAYS + 1}")

        retrain = af.trigger(f"retrain_{DATASET}", AS_OF.isoformat(), {"as_of": AS_OF.isoformat(), **CONF})
        af.wait_for_task(f"retrain_{DATASET}", retrain, "approval", WAITING_FOR_HUMAN, timeout=400)
        clock.lap("train and mail")
        # the platform's own token (admin: it triggers every run) is not enough to approve
        answer = {"chosen_options": ["Approve"], "params_input": {"reason": "self-approved"}}
        hitl = f"{af.base}/api/v2/dags/retrain_{DATASET}/dagRuns/{retrain}/taskInstances/approval/-1/hitlDetails"
        refused = httpx.patch(hitl, json=answer, headers={"Authorization": f"Bearer {af.token}"}, timeout=30)
        assert refused.status_code == 403, refused.text
        af.as_user(APPROVER).answer(f"retrain_{DATASET}", retrain, "approval", "Approve",
                                    "separates well on the out-of-time weeks", timeout=300)
        assert af.wait_for_run(f"retrain_{DATASET}", retrain, timeout=300) == "success"
        assert af.task_state(f"retrain_{DATASET}", retrain, "promote") == "success"
        clock.lap("approval and promotion")

        # the score DAG was paused while there was no champion; one day is scored now with the champion, and
        # its scores Asset runs stability monitoring
        af.set_paused(f"stability_{DATASET}", False)
        scoring = af.trigger(f"score_{DATASET}", SCORED.isoformat(), {"date": SCORED.isoformat()})
        assert af.wait_for_run(f"score_{DATASET}", scoring, timeout=300) == "success"
        assert len(af.api("GET", f"/dags/score_{DATASET}/dagRuns")["dag_runs"]) == 1
        clock.lap("score")
        wait_for(lambda: af.run_states(f"stability_{DATASET}"), 120, "the scores Asset to run stability", 2)
        (stability,) = af.run_states(f"stability_{DATASET}")
        assert af.wait_for_run(f"stability_{DATASET}", stability, timeout=300) == "success"
        clock.lap("stability")

        # the weekly backtest once the scored day's outcomes have matured
        backtest_as_of = SCORED + dt.timedelta(days=45)
        backtest = af.trigger(f"backtest_{DATASET}", backtest_as_of.isoformat(), {"weeks": 2})
        assert af.wait_for_run(f"backtest_{DATASET}", backtest, timeout=300) == "success"
        clock.lap("backtest")

        # ---------------------------------------------------------------- the bucket
        keys = bucket_keys(stack, "riskops")
        for day in [*DAYS_TRAINED, SCORED]:
            assert any(k.startswith(f"data/landing/{DATASET}/date={day}/") for k in keys), day
            for zone in ("curated", "quarantine"):
                assert f"data/{zone}/{DATASET}/date={day}/part-0.parquet" in keys, (zone, day)
            assert f"data/manifests/preprocess/{DATASET}/date={day}.json" in keys
        assert {f"data/candidates/{DATASET}/v=1/candidate.pdf", f"data/candidates/{DATASET}/v=1/candidate.json"} <= set(keys)
        scores_key = f"data/scores/{DATASET}/date={SCORED}/model=1/part-0.parquet"
        assert scores_key in keys
        assert f"data/reports/backtest/{DATASET}/as_of={backtest_as_of}.pdf" in keys
        assert not [k for k in keys if k.rsplit("/", 1)[-1].startswith((".", "_"))], "no temporaries"
        s3 = stack.s3_client()
        curated_manifest = json.loads(s3.get_object(
            Bucket="riskops", Key=f"data/manifests/preprocess/{DATASET}/date={SCORED}.json")["Body"].read())
        score_manifest = json.loads(s3.get_object(
            Bucket="riskops", Key=f"data/manifests/score/{DATASET}/date={SCORED}/model=1.json")["Body"].read())
        import pyarrow.parquet as pq

        scores = pq.read_table(io.BytesIO(s3.get_object(Bucket="riskops", Key=scores_key)["Body"].read()))
        assert scores.num_rows == curated_manifest["rows_clean"] == score_manifest["rows_scored"] > 1000
        # MLflow's artifacts went through the tracking server into the artifacts bucket
        artifacts = bucket_keys(stack, "mlflow")
        assert any(k.endswith("/artifacts/model_dir/booster.ubj") for k in artifacts), artifacts[:20]
        assert any(k.endswith(".pdf") for k in artifacts)

        # ---------------------------------------------------------------- the history on PostgreSQL
        from ml.monitor.history import History

        history = History.open(env["RISKOPS_HISTORY_URL"])
        (day,) = history.read(DATASET, window_kind="day", statistics=["overall"], feature="")
        assert day.window_start == SCORED and day.model_version == "1" and day.light in ("green", "amber", "red")
        (auc,) = history.read(DATASET, window_kind="backtest", statistics=["auc"], window_starts=[backtest_as_of])
        (week_auc,) = history.read(DATASET, window_kind="backtest_week", statistics=["auc"])
        assert 0.5 < auc.value <= 1 and week_auc.window_start == SCORED - dt.timedelta(days=SCORED.weekday())

        # ---------------------------------------------------------------- MLflow's registry, as the platform
        version = mlflow_get(stack, "model-versions/get", platform, name=MODEL, version="1")
        assert version.status_code == 200, version.text
        mv = version.json()["model_version"]
        # the backtest's week is on the version's training run
        logged = mlflow_get(stack, "metrics/get-history", platform, run_id=mv["run_id"], metric_key="backtest.auc")
        assert [m["value"] for m in logged.json()["metrics"]] == [pytest.approx(week_auc.value, abs=1e-12)]
        tags = {t["key"]: t["value"] for t in mv.get("tags", [])}
        assert mv["current_stage"] == "Production"
        assert tags["riskops.approved_by"] == APPROVER
        assert tags["riskops.approval_note"] == "separates well on the out-of-time weeks"
        alias = mlflow_get(stack, "registered-models/alias", platform, name=MODEL, alias="champion")
        assert alias.json()["model_version"]["version"] == "1"

        # the approver may read in MLflow, not move the stage or the alias; nobody anonymous may read
        assert mlflow_get(stack, "model-versions/get", approver_mlflow, name=MODEL, version="1").status_code == 200
        for path, body in [
            ("model-versions/transition-stage", {"name": MODEL, "version": "1", "stage": "Archived",
                                                 "archive_existing_versions": False}),
            ("registered-models/alias", {"name": MODEL, "alias": "champion", "version": "1"}),
            ("model-versions/set-tag", {"name": MODEL, "version": "1", "key": "riskops.approved_by", "value": "me"}),
        ]:
            response = mlflow_post(stack, path, approver_mlflow, body)
            assert response.status_code == 403, (path, response.status_code, response.text)
        assert mlflow_get(stack, "model-versions/get", None, name=MODEL, version="1").status_code == 401
        after = mlflow_get(stack, "model-versions/get", platform, name=MODEL, version="1").json()["model_version"]
        assert after["current_stage"] == "Production"

        # ---------------------------------------------------------------- the mail server
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                 for p in sorted((stack.home / "outbox").glob("*.eml"))]
        (msg,) = [m for m in mails if m["Subject"].startswith(f"[riskops] {MODEL} v1 candidate:")]
        (report,) = [m for m in mails if f"backtest as of {backtest_as_of}" in m["Subject"]]
        assert [a.get_filename() for a in report.iter_attachments()] == [f"backtest-{DATASET}-{backtest_as_of}.pdf"]
        (pdf,) = [a.get_content() for a in msg.iter_attachments()]
        assert hashlib.sha256(pdf).hexdigest() == tags["riskops.report_sha256"]
        assert stack.url("airflow") in msg.get_body(("html",)).get_content(), "the mail links this Airflow"

        # ---------------------------------------------------------------- credentials never in a log
        logs = [p for p in [*(af.airflow_home / "logs").rglob("*"), *(stack.home / "logs").rglob("*")] if p.is_file()]
        task_logs = [p for p in logs if "dag_id=" in str(p)]
        assert len(task_logs) >= 2 * (DAYS + 1) + 4 + 2, "every task wrote its log"  # preprocess: 2 tasks a day
        secrets = stack.variables
        assert env["AWS_SECRET_ACCESS_KEY"] == secrets["MINIO_ROOT_PASSWORD"]
        assert env["MLFLOW_TRACKING_PASSWORD"] == secrets["MLFLOW_PLATFORM_PASSWORD"]
        leaks = [(p, k) for p in logs for k, v in secrets.items() if v.encode() in p.read_bytes()]
        assert leaks == []
        clock.lap("checks")
    finally:
        stack.stop()
        clock.lap("stop")
        print(f"\nproduction-like run: {clock}")
