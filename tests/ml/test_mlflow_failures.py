"""MLflow down or failing: steps end in seconds with one line naming the server, and a promotion that a
503 interrupts half-way is completed by running it again. A real `mlflow server` behind a small HTTP proxy
that answers 503 to chosen requests."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from demo.airflow_runtime import stop_process_group, wait_for
from ml.errors import RiskopsError
from ml.governance import approvals, registry
from ml.governance.registry import RegistryError
from ml.model.features import FeaturePipeline
from ml.model.riskmodel import RiskModel
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import free_port, land_and_preprocess

REPO = Path(__file__).resolve().parents[2]
NAME = "riskops-card_transactions"
REPORT = b"%PDF reviewed"


class FaultyProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to `upstream`; answers 503 to the next `fail[key]` requests of a path that is `key`
    or ends with it."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.fail, self.seen = upstream, {}, []
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(http.server.BaseHTTPRequestHandler):
    server: FaultyProxy

    def _forward(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.seen.append(path)
        key = next((k for k in self.server.fail if path == k or path.endswith(k)), None)
        if key is not None and self.server.fail[key] > 0:
            self.server.fail[key] -= 1
            self.send_response(503)
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        resp = httpx.request(self.command, self.server.upstream + self.path, content=body, headers=headers, timeout=60)
        self.send_response(resp.status_code)
        for key, value in resp.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        self.wfile.write(resp.content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """A real MLflow tracking server (SQLite backend, artifacts served by the server)."""
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
                             "--artifacts-destination", str(home / "artifacts"), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            # its GenAI job runner would start worker processes that outlive the server
                            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 120, f"mlflow server at {url}", 0.5, alive=proc)
        yield url
    finally:
        stop_process_group(proc)  # the server and its workers


@pytest.fixture
def proxy(server, monkeypatch) -> Iterator[FaultyProxy]:
    p = FaultyProxy(server)
    threading.Thread(target=p.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    mlflow.set_tracking_uri(p.url)
    mlflow.set_registry_uri(p.url)
    try:
        yield p
    finally:
        p.shutdown()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def _candidate(client: MlflowClient) -> str:
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200)})
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(frame, label=(frame.x > 0).astype(int)), 3)
    model = RiskModel(FeaturePipeline(numeric=("x",), categorical={}, order=("x",)), booster, 0.5)
    experiment = registry.experiment(client, "riskops/failures", None)
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        uri, sha = registry.log_model(model, frame.head(3))
    return registry.register_candidate(client, NAME, uri, run.info.run_id, {
        "riskops.model_sha256": sha, "riskops.report_sha256": hashlib.sha256(REPORT).hexdigest()})


def test_a_503_half_way_through_a_promotion_is_completed_by_a_re_run(proxy):
    client = MlflowClient(tracking_uri=proxy.url, registry_uri=proxy.url)
    first, second = _candidate(client), _candidate(client)
    approvals.promote(client, NAME, first, "Ada", report=REPORT)

    alias_path = "/api/2.0/mlflow/registered-models/alias"
    proxy.fail[alias_path] = 2  # the first try and MLflow's one retry of setting the alias both get a 503
    with pytest.raises(RegistryError, match=f"MLflow at {proxy.url} failed while pointing alias champion"):
        approvals.promote(client, NAME, second, "Grace", report=REPORT)
    # half-written: the stage moved, the alias did not; nothing scores until the promotion is finished
    assert registry.stage(client, NAME, second) == "Production"
    assert str(registry.alias_version(client, NAME, "champion").version) == first
    with pytest.raises(RiskopsError, match=f"promotion of {NAME} version {second} by Grace .* did not finish"):
        approvals.sync_champion(client, NAME)

    audit = approvals.promote(client, NAME, second, "Grace", report=REPORT)  # the task's retry
    assert audit["previous_champion"] == first and audit["approved_by"] == "Grace"
    assert str(registry.alias_version(client, NAME, "champion").version) == second
    assert [v.version for v in registry.versions(client, NAME) if registry.stage_of(v) == "Production"] == [second]
    assert registry.tags(client, NAME, first)["replaced_by"] == second
    assert "promotion_pending" not in registry.tags(client, NAME, second)
    assert [d["action"] for d in registry.audit_trail(client, NAME, second)] == ["approved", "promoted"]  # once each
    assert approvals.sync_champion(client, NAME).version == second


def test_mlflow_answering_503_is_an_error_not_a_missing_model(proxy):
    client = MlflowClient(tracking_uri=proxy.url, registry_uri=proxy.url)
    proxy.fail["/api/2.0/mlflow/registered-models/get"] = 10
    with pytest.raises(RegistryError, match=f"MLflow at {proxy.url} failed while reading {NAME}"):
        approvals.sync_champion(client, NAME)


@pytest.fixture(scope="module")
def curated_cards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cards") / "data"
    land_and_preprocess(Storage(str(root)), get_spec(REPO / "datasets", "card_transactions"), dt.date(2026, 9, 1), 12)
    return root


@pytest.mark.parametrize("argv", [
    ["promote", "--dataset", "card_transactions", "--version", "1", "--approver", "Ada"],
    ["score", "--dataset", "card_transactions", "--date", "2026-09-01"],
    ["train", "--dataset", "card_transactions", "--as-of", "2026-10-27", "--window-days", "12", "--valid-days", "3",
     "--test-days", "3"],
])
def test_unreachable_mlflow_fails_a_step_in_one_line_naming_the_server(argv, curated_cards):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RISKOPS_DATA": str(curated_cards)}
    env.pop("MLFLOW_REGISTRY_URI", None)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ml", *argv], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: MLflow at {uri} failed while ") and proc.stderr.count("\n") == 1
    assert "has no version" not in proc.stderr and "no Production model" not in proc.stderr
    print(f"{argv[0]} gave up after {time.monotonic() - started:.1f} s")


def test_a_report_upload_failing_leaves_no_registered_version(proxy, curated_cards, tmp_path):
    """MLflow answers 503 to the PDF upload after the version is registered: the version is removed again, and
    nothing stored for it remains, so no version waits for approval without its report."""
    from ml.config import TrainConfig
    from ml.retraining.retrain import retrain

    client = MlflowClient(tracking_uri=proxy.url, registry_uri=proxy.url)
    if registry.is_registered(client, NAME):  # the other tests' toy champion is no model of these cards
        client.delete_registered_model(NAME)
    storage = Storage(str(tmp_path / "data"))
    shutil.copytree(curated_cards, tmp_path / "data")
    proxy.fail[".pdf"] = 10  # every try of the report's upload
    config = TrainConfig(window_days=12, valid_days=3, test_days=3, num_boost_round=50, early_stopping_rounds=10)
    with pytest.raises(RegistryError, match=f"MLflow at {proxy.url} failed while uploading the report of {NAME} "
                                            r"version \d+: ") as failed:
        retrain(storage, get_spec(REPO / "datasets", "card_transactions"), dt.date(2026, 10, 27), config, None)
    assert any(p.endswith(".pdf") for p in proxy.seen)
    assert "\n" not in str(failed.value)
    assert registry.versions(client, NAME) == []  # registered, then removed
    assert registry.alias_version(client, NAME, registry.CHALLENGER) is None
    assert not storage.exists("candidates") and not storage.exists("runs/retrain")
