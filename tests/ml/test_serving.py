"""The online decision service on a real uvicorn server (`python -m ml serve`, a free port) over a real MLflow
store: the same answer online as in batch for a whole day, refusals, the champion followed without a failed
request through a promotion and a rollback, halt -> fallback -> resume, and answered == recorded after SIGKILL.

One server for the module (started once; the SIGKILL test, last, kills it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from ml import layout
from ml.config import TrainConfig
from ml.data.rawfile import read_records
from ml.governance import approvals, registry
from ml.governance.halt import halt, resume
from ml.model.riskmodel import RiskModel
from ml.retraining.retrain import retrain
from ml.scoring import score
from ml.serving import journal
from ml.serving.auth import hash_token
from ml.spec import DatasetSpec
from ml.storage import Storage
from tests.helpers import approve, free_port, land_and_preprocess

DS = "card_transactions"
NAME = registry.model_name(DS)
START = dt.date(2026, 9, 1)
DAYS = 12
DAY = START + dt.timedelta(days=DAYS - 1)  # the day compared both ways
CONFIG = TrainConfig(window_days=DAYS, valid_days=2, test_days=3, num_boost_round=100, early_stopping_rounds=10)
TOKEN, OTHER = "s3cret-token-of-the-web-form", "token-of-the-mobile-app"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class World:
    uri: str
    artifacts: str
    storage: Storage
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    v1: str
    v2: str
    output: Path


def _use(uri: str, artifacts: str, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("MLFLOW_REGISTRY_URI", uri)
    mp.setenv("RISKOPS_MLFLOW_ARTIFACTS", artifacts)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def _second_version(storage: Storage, first: score.PinnedModel) -> str:
    """Version 2 registered (not promoted): version 1's model cut to its first 5 trees, a different model."""
    model = first.model
    cut = RiskModel(model.pipeline, model.booster[:5], model.threshold, model.reference_bins, model.meta)
    example = storage.read_parquet(layout.curated(DS, START)).head(5)
    experiment = MlflowClient().get_experiment_by_name(f"riskops/{DS}").experiment_id
    with mlflow.start_run(experiment_id=experiment) as run:
        uri, sha = registry.log_model(cut, example)
    report = b"%PDF version 2's report"
    return registry.register_candidate(MlflowClient(), NAME, uri, run.info.run_id, {
        "riskops.model_sha256": sha, "riskops.report_sha256": hashlib.sha256(report).hexdigest()})


def _wait_ready(url: str, process: subprocess.Popen[bytes], output: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode}: {output.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the service was not ready in {seconds} s: {output.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, cards_spec: DatasetSpec) -> Iterator[World]:
    """Twelve card days landed and preprocessed, version 1 trained and approved, every day scored in batch with
    it, version 2 registered and waiting; the service started on a free port."""
    root = tmp_path_factory.mktemp("serving")
    uri, artifacts = f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()
    with pytest.MonkeyPatch.context() as mp:
        _use(uri, artifacts, mp)
        storage = Storage(str(root / "data"))
        land_and_preprocess(storage, cards_spec, START, DAYS)
        summary = retrain(storage, cards_spec, START + dt.timedelta(days=DAYS - 1 + 45), CONFIG,
                          artifact_root=artifacts)
        approve(MlflowClient(), NAME, summary.version, approver="Ada")
        pinned = score.resolve_model(DS)
        score.score_day(storage, cards_spec, DAY, pinned)
        v2 = _second_version(storage, pinned)
    tokens = root / "tokens"
    tokens.write_text(f"# client  sha256(token)\nweb-form {hash_token(TOKEN)}\nmobile-app {hash_token(OTHER)}\n")
    port, log, output = free_port(), root / "decisions", root / "serve.out"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri, "RISKOPS_MLFLOW_ARTIFACTS": artifacts,
           "RISKOPS_DATA": storage.root, "RISKOPS_DECISION_TOKENS": str(tokens), "RISKOPS_DECISION_LOG": str(log),
           "RISKOPS_DECISION_POLL_SECONDS": "0.5", "RISKOPS_HOME": str(root / "home")}
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ml", "serve", "--port", str(port), "--dataset", DS],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, output)
        yield World(uri, artifacts, storage, url, log, process, summary.version, v2, output)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@pytest.fixture
def store(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    _use(world.uri, world.artifacts, monkeypatch)
    return world


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(world: World, body: Any, token: str = TOKEN, client: httpx.Client | None = None,
          dataset: str = DS) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(f"{world.url}/v1/datasets/{dataset}/decisions", json=body, headers=_auth(token), timeout=30)


def _landing_applications(storage: Storage, spec: DatasetSpec, day: dt.date) -> tuple[list[dict[str, str]], list[int]]:
    """The day's landing rows that have the header's shape, as applications (every field as text, as landed), and
    their line numbers."""
    apps, lines = [], []
    for key in storage.list_files(layout.landing(DS, day)):
        records = read_records(storage.read_bytes(key), spec.raw, key)
        header = records.header or []
        for fields, problem, line in zip(records.fields, records.problems, records.lines, strict=True):
            if problem or len(fields) != len(header):
                continue
            row = dict(zip(header, fields, strict=True))
            apps.append({"id": row.pop(spec.id_column), **{k: v for k, v in row.items() if k in
                                                            {c.name for c in spec.columns}}})
            lines.append(line)
    return apps, lines


def _records(world: World) -> list[journal.Record]:
    return list(journal.read(world.log))


# ---- the same answer online and in batch -------------------------------------------------------------------

def test_a_whole_day_gets_the_same_answers_online_as_in_batch(store, cards_spec):
    apps, lines = _landing_applications(store.storage, cards_spec, DAY)
    online: dict[str, dict[str, Any]] = {}
    rejected: dict[str, list[str]] = {}
    with httpx.Client() as client:
        for start in range(0, len(apps), 500):
            r = _post(store, {"applications": apps[start:start + 500]}, client=client)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["model_version"] == store.v1 and body["policy"] == "model"
            online.update({d["id"]: d for d in body["decisions"]})
            for rej in body["rejected"]:
                rejected.setdefault(rej["id"], []).append(rej["reason"])
            assert len(body["decisions"]) + len({x["id"] for x in body["rejected"]}) == len(apps[start:start + 500])
    batch = pq.read_table(store.storage.path(layout.scores(DS, DAY, store.v1))).to_pylist()
    assert len(online) == len(batch) > 1000
    for row in batch:
        got = online[row["id"]]
        assert (got["pd"], got["score"], got["band"], got["decision"], got["hard_rule"]) == \
            (row["pd"], row["score"], row["band"], row["decision"], row["hard_rule"]), row["id"]
        assert [x["code"] for x in got["reasons"]] == [row[f"reason_{i}"] for i in range(1, 5)
                                                       if row[f"reason_{i}"] is not None]
    assert all(x["text"] for d in online.values() for x in d["reasons"])
    # the rows the quarantine holds are the rejected applications, with the same words
    quarantine = pq.read_table(store.storage.path(layout.quarantine(DS, DAY))).to_pylist()
    by_line = dict(zip(lines, (a["id"] for a in apps), strict=True))
    shaped = [q for q in quarantine if q["line"] in by_line]
    assert shaped and len(rejected) == len(shaped)
    for q in shaped:
        assert "; ".join(rejected[by_line[q["line"]]]) == q["reason"]
    # every decision recorded once, with the scored row as in scores/ and the client's name
    records = {r.decision_id: r for r in _records(store)}
    answered = {d["decision_id"] for d in online.values()}
    assert answered <= set(records)
    one = records[online[batch[0]["id"]]["decision_id"]]
    assert one.row == batch[0] | {"policy": "model"} and one.client == "web-form" and one.model_version == store.v1
    assert len(one.input_sha256) == 64


# ---- refusals ----------------------------------------------------------------------------------------------

GOOD = {"id": "T-1", "transaction_date": "05/09/2026", "amount": "14,71", "merchant_category": "Voyages",
        "channel": "pos", "country": "FR", "device": "os:windows;type:terminal;trusted:0", "is_prime": "S",
        "customer_age": "68", "hour": "13"}


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 401), (TOKEN, 200), (OTHER, 200)])
def test_a_request_without_a_known_token_is_refused_and_nothing_is_recorded(store, token, status):
    before = len(_records(store))
    headers = _auth(token) if token else {}
    r = httpx.post(f"{store.url}/v1/datasets/{DS}/decisions", json={"applications": [GOOD]}, headers=headers)
    assert r.status_code == status, r.text
    assert len(_records(store)) == before + (1 if status == 200 else 0)
    if status == 401:
        assert "bearer token" in r.json()["error"]
    else:
        assert _records(store)[-1].client == ("web-form" if token == TOKEN else "mobile-app")


def _raw(world: World, data: bytes, dataset: str = DS) -> httpx.Response:
    return httpx.post(f"{world.url}/v1/datasets/{dataset}/decisions", content=data,
                      headers={**_auth(), "Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"x" * (1024 * 1024 + 1), 413, "larger than"),
    (b'{"applications": [', 400, "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    (b'{"applications": [{"id": "a", "hour": {"deep": ["x"]}}]}', 422, "must be text"),
    (b'{"applications": [[1]]}', 422, "must be an object"),
    (b'{"applications": [{"id": "a", "hour": 13}]}', 422, "must be text"),
    (b'{"applications": [{"id": "a", "colour": "red"}]}', 422, "unknown field 'colour'"),
    (b'{"applications": [], "x": 1}', 422, "unknown field 'x'"),
    (b'{"applications": []}', 422, "1 to 1000 applications, not 0"),
    (json.dumps({"applications": [{"id": str(i)} for i in range(1001)]}).encode(), 422, "not 1001"),
    (b'{"applications": [{"id": "a"}, {"id": "a"}]}', 422, "appears twice"),
    (b'{"applications": [{"id": "a", "id": "b"}]}', 400, "appears twice in one object"),
    (b'\xff\xfe', 400, "not UTF-8"),
])
def test_bad_bodies_get_a_4xx_with_one_line_and_nothing_is_recorded(store, data, status, words):
    before = len(_records(store))
    r = _raw(store, data)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert words in error and "\n" not in error and "Traceback" not in error and len(error) < 300
    assert len(_records(store)) == before


def test_an_unknown_dataset_is_404_and_an_invalid_field_is_rejected_with_the_quarantine_words(store):
    r = _raw(store, b'{"applications": [{"id": "a"}]}', dataset="no_such_dataset")
    assert r.status_code == 404 and "unknown dataset 'no_such_dataset'" in r.json()["error"]
    r = _post(store, {"applications": [GOOD, {**GOOD, "id": "T-2", "hour": "25"}]})
    body = r.json()
    assert r.status_code == 200 and [d["id"] for d in body["decisions"]] == ["T-1"]
    assert body["rejected"] == [{"id": "T-2", "column": "hour", "reason": "hour: 25 is above the maximum 23"}]


def test_the_champion_route_names_the_version_its_approver_and_report(store):
    assert httpx.get(f"{store.url}/v1/datasets/{DS}/champion").status_code == 401
    body = httpx.get(f"{store.url}/v1/datasets/{DS}/champion", headers=_auth()).json()
    tags = registry.tags(MlflowClient(), NAME, store.v1)
    assert body["model_version"] == store.v1 and body["approved_by"] == "Ada" and body["halted"] is False
    assert body["report_sha256"] == tags["report_sha256"] and body["since"]
    assert httpx.get(f"{store.url}/healthz").json() == {"status": "up"}
    metrics = httpx.get(f"{store.url}/metrics").text
    assert 'riskops_decision_requests_total{dataset="card_transactions",outcome="decided",status="200"}' in metrics
    assert f'riskops_decisions_total{{dataset="card_transactions",model_version="{store.v1}"' in metrics
    assert "riskops_decision_request_seconds_bucket" in metrics


# ---- following the champion --------------------------------------------------------------------------------

class Load:
    """Clients sending one application per request in a loop, recording every answer."""

    def __init__(self, world: World, threads: int = 4) -> None:
        self.world, self.stop = world, threading.Event()
        self.answers: list[tuple[float, int, str | None, str | None]] = []  # time, status, version, policy
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, i: int) -> None:
        n = 0
        with httpx.Client() as client:
            while not self.stop.is_set():
                n += 1
                try:
                    r = _post(self.world, {"applications": [{**GOOD, "id": f"L{i}-{n}"}]}, client=client)
                    body = r.json()
                    answer = (time.monotonic(), r.status_code, body.get("model_version"), body.get("policy"))
                except httpx.HTTPError as exc:
                    answer = (time.monotonic(), 0, type(exc).__name__, None)
                with self.lock:
                    self.answers.append(answer)

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def first(self, since: float, version: str | None, policy: str = "model") -> float:
        with self.lock:
            return next(t for t, _, v, p in self.answers if t >= since and v == version and p == policy)


def _until(load: Load, since: float, version: str | None, policy: str = "model", seconds: float = 15) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return load.first(since, version, policy) - since
        except StopIteration:
            time.sleep(0.1)
    raise AssertionError(f"no answer from version {version} ({policy}) within {seconds} s")


def test_a_promotion_and_a_rollback_reach_the_service_under_load_without_a_failed_request(store):
    client = MlflowClient()
    with Load(store) as load:
        time.sleep(1)
        promoted = time.monotonic()
        approvals.promote(client, NAME, store.v2, "Grace", report=b"%PDF version 2's report")
        switch = _until(load, promoted, store.v2)
        time.sleep(1)
        rolled = time.monotonic()
        target, _ = approvals.rollback_target(client, NAME)
        approvals.rollback(client, NAME, target, "Ada", "v2 is a cut-down model", report=registry.report_bytes(
            client, NAME, target))
        back = _until(load, rolled, store.v1)
        time.sleep(1)
    assert all(status == 200 for _, status, _, _ in load.answers), {a for a in load.answers if a[1] != 200}
    assert {v for _, _, v, _ in load.answers} == {store.v1, store.v2}
    print(f"promotion reached the service in {switch:.2f} s, the rollback in {back:.2f} s; "
          f"{len(load.answers)} answers under load")
    assert switch <= 10 and back <= 10
    # after each switch, no answer from the version before it
    after_promotion = [v for t, _, v, _ in load.answers if promoted + switch < t < rolled]
    assert after_promotion and set(after_promotion) == {store.v2}
    # each response's version is the version of its records
    records = _records(store)
    by_request: dict[str, set[str]] = {}
    for r in records:
        by_request.setdefault(r.request_id, set()).add(r.model_version)
    assert all(len(v) == 1 for v in by_request.values())
    assert {r.model_version for r in records} >= {store.v1, store.v2}


def test_a_version_whose_files_fail_their_hash_check_is_refused_and_the_champion_keeps_serving(store):
    client = MlflowClient()
    v3 = _second_version(store.storage, score.resolve_model(DS))
    client.set_model_version_tag(NAME, v3, "riskops.model_sha256", "0" * 64)  # its files no longer match
    approvals.promote(client, NAME, v3, "Grace", report=b"%PDF version 2's report")
    time.sleep(3)
    r = _post(store, {"applications": [GOOD]})
    assert r.status_code == 200 and r.json()["model_version"] == store.v1
    assert f"{NAME} version {v3}: its model files do not match" in store.output.read_text()
    assert httpx.get(f"{store.url}/v1/datasets/{DS}/champion", headers=_auth()).json()["model_version"] == store.v1
    # back to an approved version that loads
    approvals.rollback(client, NAME, store.v1, "Ada", "v3's files are broken",
                       report=registry.report_bytes(client, NAME, store.v1))
    time.sleep(2)
    assert _post(store, {"applications": [GOOD]}).json()["model_version"] == store.v1


def test_halt_switches_to_the_fallback_policy_and_resume_back_to_the_champion(store):
    client = MlflowClient()
    with Load(store, threads=2) as load:
        halted_at = time.monotonic()
        halt(client, NAME, "Ada", "scores look wrong")
        to_fallback = _until(load, halted_at, None, "fallback")
        champion = httpx.get(f"{store.url}/v1/datasets/{DS}/champion", headers=_auth()).json()
        r = _post(store, {"applications": [GOOD]})
        resumed_at = time.monotonic()
        resume(client, NAME, "Ada", "fixed")
        back = _until(load, resumed_at, store.v1)
    assert all(status == 200 for _, status, _, _ in load.answers)
    print(f"halt reached the service in {to_fallback:.2f} s, the resume in {back:.2f} s")
    assert to_fallback <= 10 and back <= 10
    assert champion["halted"] is True and champion["halt"]["reason"] == "scores look wrong"
    (decision,) = r.json()["decisions"]
    assert r.json()["policy"] == "fallback" and r.json()["model_version"] is None
    assert decision["decision"] == "review" and decision["pd"] is None and decision["reasons"] == []
    assert [x.policy for x in _records(store) if x.decision_id == decision["decision_id"]] == ["fallback"]


# ---- durability ----------------------------------------------------------------------------------------------

def test_every_answered_decision_is_recorded_after_a_sigkill_under_load(store):
    answered: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def send(i: int) -> None:
        n = 0
        with httpx.Client() as client:
            while not stop.is_set():
                n += 1
                apps = [{**GOOD, "id": f"K{i}-{n}-{j}"} for j in range(5)]
                try:
                    r = _post(store, {"applications": apps}, client=client)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        answered.extend(d["decision_id"] for d in r.json()["decisions"])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(3)
    store.process.send_signal(signal.SIGKILL)
    store.process.wait()
    stop.set()
    for t in threads:
        t.join()
    recorded = {r.decision_id for r in _records(store)}
    print(f"{len(answered)} decisions answered before the SIGKILL, {len(recorded)} recorded in all")
    assert len(answered) > 50
    assert set(answered) <= recorded


def test_the_decision_log_rolls_up_into_daily_partitions_in_the_scores_schema(store, monkeypatch, capsys):
    from ml.cli import main
    from ml.serving.rollup import SCHEMA

    monkeypatch.setenv("RISKOPS_DATA", store.storage.root)
    records = [r for r in _records(store) if r.dataset == DS]
    days = sorted({r.business_date for r in records})
    for day in days:
        assert main(["rollup-decisions", "--dataset", DS, "--date", day, "--log", str(store.log)]) == 0
    assert "online decisions rolled up" in capsys.readouterr().out
    rows: dict[str, dict[str, Any]] = {}
    versions = set()
    for day in days:
        manifest = store.storage.read_json(layout.decisions_manifest(DS, dt.date.fromisoformat(day)))
        for version, out in manifest["versions"].items():
            versions.add(version)
            table = pq.read_table(store.storage.path(out["key"]))
            assert table.schema.names == SCHEMA.names and table.schema.names[:len(score.SCHEMA)] == score.SCHEMA.names
            rows.update({r["decision_id"]: r for r in table.to_pylist()})
    assert versions == {store.v1, store.v2, layout.FALLBACK}
    assert set(rows) == {r.decision_id for r in records}
    assert {r["channel"] for r in rows.values()} == {"online"}
    one = records[0]
    assert {k: rows[one.decision_id][k] for k in one.row} == one.row
    # a re-run replaces the day and counts each decision once
    day = dt.date.fromisoformat(days[-1])
    before = store.storage.read_json(layout.decisions_manifest(DS, day))
    assert main(["rollup-decisions", "--dataset", DS, "--date", days[-1], "--log", str(store.log)]) == 0
    after = store.storage.read_json(layout.decisions_manifest(DS, day))
    assert after["records"] == before["records"] and after["versions"] == before["versions"]
