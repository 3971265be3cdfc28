"""The production path, driven and checked on a running platform: landing files in the bucket -> preprocess ->
retrain -> approval answered by an approver through Airflow's REST API -> promotion -> score -> stability (by
the scores Asset) -> weekly backtest, as real DAG runs; then the bucket, the history on PostgreSQL, MLflow's
registry (its REST API), the mails and the logs, and the refusals: the platform's own token cannot approve,
an MLflow approver cannot move a stage or alias, nobody unauthenticated reads MLflow, no credential in a log.

One flow, two platforms: `make stack`'s processes (tests/test_stack.py, demo.stack) and the compose stack in
Docker with every step as a container (make compose-check, demo.compose_check). Each gives a `Platform`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx

from demo.airflow_runtime import WAITING_FOR_HUMAN, AirflowApi, wait_for

DATASET = "card_transactions"
MODEL = f"riskops-{DATASET}"
START, DAYS = dt.date(2026, 9, 1), 8
DAYS_TRAINED = [START + dt.timedelta(days=i) for i in range(DAYS)]
AS_OF = DAYS_TRAINED[-1] + dt.timedelta(days=45)  # every label of the window has matured
SCORED = DAYS_TRAINED[-1] + dt.timedelta(days=1)  # the day after the training window, scored by the champion
BACKTEST_AS_OF = SCORED + dt.timedelta(days=45)  # the scored day's outcomes have matured
CONF = {"window_days": DAYS, "valid_days": 2, "test_days": 2}
APPROVER = "risk-approver"
APPROVAL_NOTE = "separates well on the out-of-time weeks"
SCORES_KEY = f"data/scores/{DATASET}/date={SCORED}/model=1/part-0.parquet"

class CheckFailed(AssertionError):
    """What the platform did differs from what the production path requires; the message says what."""

def require(condition: object, message: str) -> None:
    """An assertion that survives `python -O` and names what failed."""
    if not condition:
        raise CheckFailed(message)

class Platform(Protocol):
    """A running platform as the flow sees it."""

    airflow: AirflowApi  # logged in as the platform's admin
    history_url: str  # the monitoring history's database, reachable from here
    airflow_public_url: str  # the address the mails link to
    secrets: dict[str, str]  # every credential of the platform: none may appear in a log

    def url(self, name: str) -> str:  # "mlflow": the tracking server, reachable from here
        ...

    def s3_client(self) -> Any: ...

    def mlflow_users(self) -> dict[str, tuple[str, str]]:  # "platform", "approver" -> (user, password)
        ...

    def land(self, args: list[str]) -> None:  # `python -m ml <args>` with a step's environment (a bank's feed)
        ...

    def mails(self) -> list[EmailMessage]: ...

    def logs(self) -> list[Path]:  # every log file of every component and task
        ...

@dataclass
class Clock:
    """Wall time of each phase."""

    start: float = field(default_factory=time.monotonic)
    phases: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last = self.start

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{n} {s:.0f} s" for n, s in self.phases) + f"; total {time.monotonic() - self.start:.0f} s"

def read_mails(paths: list[Path]) -> list[EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(paths)]

def run_flow(platform: Platform, clock: Clock, timeout: float = 300) -> None:
    """Drive the whole path as DAG runs; raises WaitError/CheckFailed on the first thing that goes wrong."""
    af = platform.airflow
    # a bank's feed lands the raw files (and later the labels) in the bucket: the CLI with a step's environment
    platform.land(["replay", "--dataset", DATASET, "--start", START.isoformat(), "--end", SCORED.isoformat()])
    wait_for(lambda: {f"preprocess_{DATASET}", f"retrain_{DATASET}", f"score_{DATASET}"} <= {
        d["dag_id"] for d in af.api("GET", "/dags", params={"limit": 100})["dags"]}, 180, "the DAGs to be parsed", 2)
    clock.lap("landing")

    runs = [af.trigger(f"preprocess_{DATASET}", d.isoformat()) for d in [*DAYS_TRAINED, SCORED]]
    for run_id in runs:
        require(af.wait_for_run(f"preprocess_{DATASET}", run_id, timeout=timeout) == "success",
                f"preprocess run {run_id} failed; task logs: {af.task_logs(f'preprocess_{DATASET}', run_id)}")
    clock.lap(f"preprocess x{DAYS + 1}")

    retrain = af.trigger(f"retrain_{DATASET}", AS_OF.isoformat(), {"as_of": AS_OF.isoformat(), **CONF})
    af.wait_for_task(f"retrain_{DATASET}", retrain, "approval", WAITING_FOR_HUMAN, timeout=timeout + 200)
    clock.lap("train and mail")
    # the platform's own token (admin: it triggers every run) is not enough to approve
    answer = {"chosen_options": ["Approve"], "params_input": {"reason": "self-approved"}}
    hitl = f"{af.base}/api/v2/dags/retrain_{DATASET}/dagRuns/{retrain}/taskInstances/approval/-1/hitlDetails"
    refused = httpx.patch(hitl, json=answer, headers={"Authorization": f"Bearer {af.token}"}, timeout=30)
    require(refused.status_code == 403, f"the platform's admin answered the approval: {refused.status_code} {refused.text[:200]}")
    af.as_user(APPROVER).answer(f"retrain_{DATASET}", retrain, "approval", "Approve", APPROVAL_NOTE, timeout=timeout)
    require(af.wait_for_run(f"retrain_{DATASET}", retrain, timeout=timeout) == "success", "the retrain run failed")
    require(af.task_state(f"retrain_{DATASET}", retrain, "promote") == "success", "promote did not succeed")
    clock.lap("approval and promotion")

    # the score DAG was paused while there was no champion; one day is scored now with the champion, and
    # its scores Asset runs stability monitoring
    af.set_paused(f"stability_{DATASET}", False)
    scoring = af.trigger(f"score_{DATASET}", SCORED.isoformat(), {"date": SCORED.isoformat()})
    require(af.wait_for_run(f"score_{DATASET}", scoring, timeout=timeout) == "success", "the score run failed")
    require(len(af.api("GET", f"/dags/score_{DATASET}/dagRuns")["dag_runs"]) == 1, "one score run, no other")
    clock.lap("score")
    wait_for(lambda: af.run_states(f"stability_{DATASET}"), 120, "the scores Asset to run stability", 2)
    (stability,) = af.run_states(f"stability_{DATASET}")
    require(af.wait_for_run(f"stability_{DATASET}", stability, timeout=timeout) == "success", "the stability run failed")
    clock.lap("stability")

    # the weekly backtest once the scored day's outcomes have matured
    backtest = af.trigger(f"backtest_{DATASET}", BACKTEST_AS_OF.isoformat(), {"weeks": 2})
    require(af.wait_for_run(f"backtest_{DATASET}", backtest, timeout=timeout) == "success", "the backtest run failed")
    clock.lap("backtest")

def bucket_keys(platform: Platform, bucket: str) -> list[str]:
    pages = platform.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

def check_bucket(platform: Platform) -> None:
    keys = bucket_keys(platform, "riskops")
    for day in [*DAYS_TRAINED, SCORED]:
        require(any(k.startswith(f"data/landing/{DATASET}/date={day}/") for k in keys), f"no landing files of {day}")
        for zone in ("curated", "quarantine"):
            require(f"data/{zone}/{DATASET}/date={day}/part-0.parquet" in keys, f"no {zone} file of {day}")
        require(f"data/manifests/preprocess/{DATASET}/date={day}.json" in keys, f"no preprocess manifest of {day}")
    require({f"data/candidates/{DATASET}/v=1/candidate.pdf", f"data/candidates/{DATASET}/v=1/candidate.json"} <= set(keys),
            "no candidate report of version 1")
    require(SCORES_KEY in keys, f"no scores at {SCORES_KEY}")
    require(f"data/reports/backtest/{DATASET}/as_of={BACKTEST_AS_OF}.pdf" in keys, "no backtest PDF")
    require(not [k for k in keys if k.rsplit("/", 1)[-1].startswith((".", "_"))], "temporaries left in the bucket")
    s3 = platform.s3_client()
    curated_manifest = json.loads(s3.get_object(
        Bucket="riskops", Key=f"data/manifests/preprocess/{DATASET}/date={SCORED}.json")["Body"].read())
    score_manifest = json.loads(s3.get_object(
        Bucket="riskops", Key=f"data/manifests/score/{DATASET}/date={SCORED}/model=1.json")["Body"].read())
    import pyarrow.parquet as pq

    scores = pq.read_table(io.BytesIO(s3.get_object(Bucket="riskops", Key=SCORES_KEY)["Body"].read()))
    require(scores.num_rows == curated_manifest["rows_clean"] == score_manifest["rows_scored"] > 1000,
            f"rows scored {scores.num_rows}, clean {curated_manifest['rows_clean']}, manifest {score_manifest['rows_scored']}")
    # MLflow's artifacts went through the tracking server into the artifacts bucket
    artifacts = bucket_keys(platform, "mlflow")
    require(any(k.endswith("/artifacts/model_dir/booster.ubj") for k in artifacts), f"no booster in {artifacts[:20]}")
    require(any(k.endswith(".pdf") for k in artifacts), "no PDF among MLflow's artifacts")

def check_history(platform: Platform) -> float:
    """The stability and backtest rows in the history database; returns the backtest week's AUC."""
    from ml.monitor.history import History

    history = History.open(platform.history_url)
    days = history.read(DATASET, window_kind="day", statistics=["overall"], feature="")
    require(len(days) == 1, f"{len(days)} daily stability rows, expected 1")
    (day,) = days
    require(day.window_start == SCORED and day.model_version == "1" and day.light in ("green", "amber", "red"),
            f"unexpected stability row {day}")
    (auc,) = history.read(DATASET, window_kind="backtest", statistics=["auc"], window_starts=[BACKTEST_AS_OF])
    (week_auc,) = history.read(DATASET, window_kind="backtest_week", statistics=["auc"])
    require(0.5 < auc.value <= 1, f"backtest AUC {auc.value}")
    require(week_auc.window_start == SCORED - dt.timedelta(days=SCORED.weekday()), f"backtest week {week_auc.window_start}")
    return float(week_auc.value)

def mlflow_get(platform: Platform, path: str, auth: tuple[str, str] | None, **params: str) -> httpx.Response:
    return httpx.get(f"{platform.url('mlflow')}/api/2.0/mlflow/{path}", params=params, auth=auth, timeout=30)

def mlflow_post(platform: Platform, path: str, auth: tuple[str, str], body: dict) -> httpx.Response:
    return httpx.post(f"{platform.url('mlflow')}/api/2.0/mlflow/{path}", json=body, auth=auth, timeout=30)

def check_registry(platform: Platform, week_auc: float) -> dict[str, str]:
    """Version 1 in MLflow's registry through its REST API as the platform; the approver's and anonymous
    refusals. Returns the version's tags."""
    users = platform.mlflow_users()
    platform_user, approver = users["platform"], users["approver"]
    version = mlflow_get(platform, "model-versions/get", platform_user, name=MODEL, version="1")
    require(version.status_code == 200, f"model-versions/get as the platform: {version.status_code} {version.text[:200]}")
    mv = version.json()["model_version"]
    # the backtest's week is on the version's training run
    logged = mlflow_get(platform, "metrics/get-history", platform_user, run_id=mv["run_id"], metric_key="backtest.auc")
    values = [m["value"] for m in logged.json()["metrics"]]
    require(len(values) == 1 and abs(values[0] - week_auc) < 1e-12, f"backtest.auc on the run: {values}, history {week_auc}")
    tags = {t["key"]: t["value"] for t in mv.get("tags", [])}
    require(mv["current_stage"] == "Production", f"stage {mv['current_stage']}")
    require(tags.get("riskops.approved_by") == APPROVER, f"approved_by {tags.get('riskops.approved_by')}")
    require(tags.get("riskops.approval_note") == APPROVAL_NOTE, f"approval_note {tags.get('riskops.approval_note')}")
    alias = mlflow_get(platform, "registered-models/alias", platform_user, name=MODEL, alias="champion")
    require(alias.json()["model_version"]["version"] == "1", "champion alias is not version 1")

    # the approver may read in MLflow, not move the stage or the alias; nobody anonymous may read
    read = mlflow_get(platform, "model-versions/get", approver, name=MODEL, version="1")
    require(read.status_code == 200, f"the approver cannot read the version: {read.status_code}")
    for path, body in [
        ("model-versions/transition-stage", {"name": MODEL, "version": "1", "stage": "Archived",
                                             "archive_existing_versions": False}),
        ("registered-models/alias", {"name": MODEL, "alias": "champion", "version": "1"}),
        ("model-versions/set-tag", {"name": MODEL, "version": "1", "key": "riskops.approved_by", "value": "me"}),
    ]:
        response = mlflow_post(platform, path, approver, body)
        require(response.status_code == 403, f"the approver's {path}: {response.status_code} {response.text[:200]}")
    anonymous = mlflow_get(platform, "model-versions/get", None, name=MODEL, version="1")
    require(anonymous.status_code == 401, f"anonymous MLflow read: {anonymous.status_code}")
    after = mlflow_get(platform, "model-versions/get", platform_user, name=MODEL, version="1").json()["model_version"]
    require(after["current_stage"] == "Production", "the approver's refused calls changed the stage")
    return tags

def check_mails(platform: Platform, tags: dict[str, str]) -> None:
    mails = platform.mails()
    candidates = [m for m in mails if m["Subject"].startswith(f"[riskops] {MODEL} v1 candidate:")]
    require(len(candidates) == 1, f"{len(candidates)} candidate mails: {[m['Subject'] for m in mails]}")
    (msg,) = candidates
    reports = [m for m in mails if f"backtest as of {BACKTEST_AS_OF}" in m["Subject"]]
    require(len(reports) == 1, f"{len(reports)} backtest mails")
    names = [a.get_filename() for a in reports[0].iter_attachments()]
    require(names == [f"backtest-{DATASET}-{BACKTEST_AS_OF}.pdf"], f"backtest mail attachments {names}")
    pdfs = [a.get_content() for a in msg.iter_attachments()]
    require(len(pdfs) == 1 and pdfs[0][:5] == b"%PDF-", "the candidate mail has no PDF")
    require(hashlib.sha256(pdfs[0]).hexdigest() == tags["riskops.report_sha256"],
            "the mailed PDF is not the report registered with the version")
    html = msg.get_body(("html",)).get_content()
    require(platform.airflow_public_url in html, f"the mail does not link {platform.airflow_public_url}")


def check_logs(platform: Platform, min_task_logs: int = 2 * (DAYS + 1) + 4 + 2) -> int:  # preprocess: 2 tasks a day
    """No credential of the platform in any log; returns how many files were searched."""
    logs = platform.logs()
    task_logs = [p for p in logs if "dag_id=" in str(p)]
    require(len(task_logs) >= min_task_logs, f"{len(task_logs)} task logs, expected at least {min_task_logs}")
    leaks = [(str(p), k) for p in logs for k, v in platform.secrets.items() if v and v.encode() in p.read_bytes()]
    require(leaks == [], f"credentials in logs: {leaks[:10]}")
    return len(logs)

def check_all(platform: Platform, clock: Clock) -> None:
    check_bucket(platform)
    week_auc = check_history(platform)
    tags = check_registry(platform, week_auc)
    check_mails(platform, tags)
    check_logs(platform)
    clock.lap("checks")
