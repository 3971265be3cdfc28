"""compose-check's fault phase: a fault injected for real into the running compose stack, then the same checks.

Fault 1 (issue 31): SIGKILL of the Celery worker container that is running a scoring step. Airflow fails the
task over once its heartbeat stops (AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT), its retry runs on a
worker (the other one, or the killed one once Docker restarted it), and the day is scored once: one scores
file and one manifest for (day, version), its rows those of the day's curated file.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from demo.airflow_runtime import wait_for
from demo.production_flow import DATASET, DAYS_TRAINED, require

# the task that scores a day when the day is one partition (the score DAG's default): `commit` runs
# `python -m ml score --date D --commit` (riskops_airflow.scoring_plan)
SCORE_STEP = "commit"


def running_step(stack: Any, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    """The task instance of `task_id` (any map index) running with a hostname, if there is one."""
    tis = stack.airflow.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    return next((ti for ti in tis["task_instances"]
                 if ti["task_id"] == task_id and ti["state"] == "running" and ti.get("hostname")), None)


def score_files(stack: Any, day: dt.date) -> list[str]:
    """Every object the scoring of `day` left: scores files and score manifests."""
    s3 = stack.s3_client()
    keys: list[str] = []
    for prefix in (f"data/scores/{DATASET}/date={day}/", f"data/manifests/score/{DATASET}/date={day}/"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="riskops", Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def kill_worker_during_scoring(stack: Any, timeout: float = 600) -> str:
    """Fault 1; returns one line: which worker was killed, where the retry ran, the time to recover."""
    from demo.compose_check import run

    day = DAYS_TRAINED[-1]  # preprocessed by the flow, not scored by it
    dag_id = f"score_{DATASET}"
    run_id = stack.airflow.trigger(dag_id, day.isoformat(), {"date": day.isoformat()})
    found: dict[str, Any] = {}

    def step_running() -> bool:
        found["ti"] = running_step(stack, dag_id, run_id, SCORE_STEP)
        return found["ti"] is not None

    wait_for(step_running, timeout, f"a {SCORE_STEP} task of {run_id} to run on a worker", 0.5)
    victim = found["ti"]["hostname"]
    workers = stack.container_ids(f"label=com.docker.compose.project={stack.project}",
                                  "label=com.docker.compose.service=airflow-worker")
    by_host = {run(["docker", "inspect", "-f", "{{.Config.Hostname}}", c]).stdout.strip(): c for c in workers}
    require(victim in by_host, f"{SCORE_STEP} runs on {victim}, not a worker container ({sorted(by_host)})")
    run(["docker", "kill", "--signal", "KILL", by_host[victim]])
    killed = time.monotonic()
    state = stack.airflow.wait_for_run(dag_id, run_id, timeout=timeout)
    recovered = time.monotonic() - killed
    require(state == "success", f"the score run of {day} after the worker's SIGKILL: {state}")
    tis = stack.airflow.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    step = [ti for ti in tis["task_instances"] if ti["task_id"] == SCORE_STEP]
    require(all(ti["state"] == "success" for ti in step) and any(ti["try_number"] > 1 for ti in step),
            f"{SCORE_STEP} after the kill: {[(ti['state'], ti['try_number'], ti['hostname']) for ti in step]}")
    keys = score_files(stack, day)
    version = "model=1"
    require(keys == [f"data/manifests/score/{DATASET}/date={day}/{version}.json",
                     f"data/scores/{DATASET}/date={day}/{version}/part-0.parquet"],
            f"the scoring of {day} left {keys}: one scores file and one manifest expected")
    s3 = stack.s3_client()
    curated = json.loads(s3.get_object(Bucket="riskops",
                                       Key=f"data/manifests/preprocess/{DATASET}/date={day}.json")["Body"].read())
    manifest = json.loads(s3.get_object(Bucket="riskops", Key=keys[0])["Body"].read())
    require(manifest["rows_scored"] == curated["rows_clean"],
            f"{day}: {manifest['rows_scored']} rows scored, {curated['rows_clean']} clean")
    retried_on = sorted({ti["hostname"] for ti in step if ti["try_number"] > 1})
    return (f"fault 1: worker {victim} SIGKILLed while running {SCORE_STEP} of {day}; retried on {retried_on}; "
            f"the run succeeded {recovered:.0f} s after the kill; {day} scored once "
            f"({manifest['rows_scored']} rows)")
