"""Benchmark: the online decision service (`python -m ml serve`: validation, policy, reasons and the fsynced
decision log included) against MLflow's own scoring server (`mlflow models serve -m models:/…@champion
--env-manager local`, a PD and nothing else) on the same registered champion, side by side in one run.

Trains a card-transactions model as production does (replay, preprocess, fit), registers and approves it in a
temporary MLflow SQLite store (and registers a second version, waiting), starts both servers on free ports
(one uvicorn worker each), then measures from one client process (threads, httpx):

  (a) throughput of 100-application requests (applications/s), riskops over MLflow  -- goal >= 3;
  (b) p50 and p99 latency of single-application requests at a fixed rate (from each request's scheduled start,
      so a stall counts), riskops' p99 over MLflow's  -- goal <= 0.5;
  (c) failed requests, and riskops' p99, through a champion swap at that rate (version 2 promoted
      mid-run)  -- goal: 0 failures.

The client is hand-written (a few threads of httpx; no locust or wrk in the lock): both servers get the same one.

Run: .venv/bin/python bench/decisions.py [--seconds 10] [--rate 50] [--tiny] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.cpu import use_fast_sort  # noqa: E402

use_fast_sort()

from bench import table  # noqa: E402
from bench.table import TINY_SKIPPED, Figure, figure  # noqa: E402

BENCH = "decisions"
DS = "card_transactions"
TOKEN = "bench-token"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(root: Path, tiny: bool) -> dict[str, Any]:
    """Days replayed and preprocessed, a model trained, registered as version 1 (champion) and 2 (waiting)."""
    import mlflow
    from mlflow import MlflowClient

    from ml.config import TrainConfig
    from ml.data.preprocess import preprocess_day
    from ml.data.replay import replay
    from ml.governance import approvals, registry
    from ml.model.train import development_sample, fit
    from ml.spec import get_spec
    from ml.storage import Storage

    spec = get_spec(REPO / "datasets", DS)
    rows = 300 if tiny else 3000
    source = spec.source.model_copy(update={"params": spec.source.params.model_copy(update={"rows_per_day": rows})})
    spec = spec.model_copy(update={"source": source})
    storage = Storage(str(root / "data"))
    first, days = dt.date(2026, 9, 1), 6
    last = first + dt.timedelta(days=days - 1)
    replay(storage, spec, first, last)
    for i in range(days):
        preprocess_day(storage, spec, first + dt.timedelta(days=i))
    frame = development_sample(storage, spec, last + dt.timedelta(days=spec.label.maturity_lag_days), days).frame
    cut = sorted(frame["business_date"].dt.date.unique())[-2]
    dates = frame["business_date"].dt.date
    config = TrainConfig(num_boost_round=20 if tiny else 200, early_stopping_rounds=5 if tiny else 20)
    model, _ = fit(spec, {"train": frame[dates < cut], "valid": frame[dates >= cut]}, config)
    client = MlflowClient()
    experiment = client.create_experiment("bench", artifact_location=os.environ["RISKOPS_MLFLOW_ARTIFACTS"])
    name, report = registry.model_name(DS), b"%PDF bench report"
    versions = []
    for _ in range(2):
        with mlflow.start_run(experiment_id=experiment) as run:
            uri, sha = registry.log_model(model, frame.drop(columns=["label"]).head(5))
        versions.append(registry.register_candidate(client, name, uri, run.info.run_id, {
            "riskops.model_sha256": sha, "riskops.report_sha256": hashlib.sha256(report).hexdigest()}))
        if len(versions) == 1:
            approvals.promote(client, name, versions[0], "bench", report=report)
    return {"versions": versions, "report": report, "last": last, "storage": storage, "spec": spec}


def _applications(storage: Any, spec: Any, day: dt.date, n: int) -> list[dict[str, str]]:
    """Landing rows of the day as applications (text as landed), the rows that pass validation."""
    from ml import layout
    from ml.data.rawfile import read_records

    out: list[dict[str, str]] = []
    for key in storage.list_files(layout.landing(DS, day)):
        records = read_records(storage.read_bytes(key), spec.raw, key)
        header = records.header or []
        for fields, problem in zip(records.fields, records.problems, strict=True):
            if not problem and len(fields) == len(header):
                row = dict(zip(header, fields, strict=True))
                out.append({"id": row.pop(spec.id_column), **row})
    return out[:n]


def _curated_rows(storage: Any, day: dt.date, n: int) -> tuple[list[str], list[list[Any]]]:
    """Curated rows of the day as MLflow's `dataframe_split` wants them (every curated column, dates as text)."""
    import math

    from ml import layout

    frame = storage.read_parquet(layout.curated(DS, day)).head(n)
    columns = list(frame.columns)
    data = []
    for row in frame.itertuples(index=False):
        values = []
        for v in row:
            if hasattr(v, "isoformat"):
                v = v.isoformat()
            elif isinstance(v, float) and math.isnan(v):
                v = None
            elif v is not None and not isinstance(v, (str, int, float, bool)):
                v = None if str(v) in ("<NA>", "NaT") else (v.item() if hasattr(v, "item") else str(v))
            values.append(v)
        data.append(values)
    return columns, data


def _start(command: list[str], env: dict[str, str], url: str, log: Path, ready: str) -> subprocess.Popen[bytes]:
    import httpx

    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited {proc.returncode}: {log.read_text()[-500:]}")
        try:
            if httpx.get(url + ready, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{command[:4]} not ready in 180 s: {log.read_text()[-500:]}")


def _throughput(url: str, bodies: list[bytes], headers: dict[str, str], seconds: float, threads: int = 4) -> dict[str, float]:
    """Rows/s of back-to-back requests of `bodies` (each 100 rows) from `threads` clients, and failures."""
    import httpx

    done = [0, 0]  # requests ok, failed
    lock, stop = threading.Lock(), threading.Event()

    def run(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            k = i
            while not stop.is_set():
                r = client.post(url, content=bodies[k % len(bodies)], headers=headers)
                with lock:
                    done[0 if r.status_code == 200 else 1] += 1
                k += threads

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    return {"requests_per_s": done[0] / (time.perf_counter() - started), "failed": done[1]}


def _fixed_rate(url: str, bodies: list[bytes], headers: dict[str, str], rate: float, seconds: float,
                during: Any = None, threads: int = 8) -> dict[str, Any]:
    """Requests sent at `rate` per second for `seconds`; each latency measured from its scheduled start (a
    stalled server delays the next ones, and they count). `during` runs at mid-time (the swap)."""
    import httpx
    import numpy as np

    n = int(rate * seconds)
    latencies: list[float] = []
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    next_index = [0]

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= n:
                    return
                due = start + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                try:
                    r = client.post(url, content=bodies[i % len(bodies)], headers=headers)
                    status, version = r.status_code, (r.json().get("model_version") if r.status_code == 200 else None)
                except (httpx.HTTPError, ValueError):
                    status, version = 0, None
                with lock:
                    latencies.append(time.perf_counter() - due)
                    answers.append((status, version))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    if during is not None:
        time.sleep(seconds / 2)
        during()
    for w in workers:
        w.join()
    ms = np.array(latencies) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "failed": sum(1 for s, _ in answers if s != 200), "versions": sorted({str(v) for _, v in answers})}


def figures(seconds: float, rate: float, tiny: bool) -> list[Figure]:
    import mlflow
    from mlflow import MlflowClient

    from ml.governance import approvals, registry
    from ml.serving.auth import hash_token

    if tiny:
        seconds, rate = 2.0, 10.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
               "RISKOPS_MLFLOW_ARTIFACTS": (root / "artifacts").as_uri(), "RISKOPS_DATA": str(root / "data"),
               "RISKOPS_HOME": str(root / "home"), "RISKOPS_DECISION_LOG": str(root / "decisions"),
               "RISKOPS_DECISION_TOKENS": str(root / "tokens"), "RISKOPS_DECISION_POLL_SECONDS": "1",
               "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        os.environ.update({k: env[k] for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                                               "RISKOPS_MLFLOW_ARTIFACTS")})
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        (root / "tokens").write_text(f"bench {hash_token(TOKEN)}\n")
        world = setup(root, tiny)
        apps = _applications(world["storage"], world["spec"], world["last"], 400)
        columns, rows = _curated_rows(world["storage"], world["last"], 400)
        ours_port, theirs_port = _free_port(), _free_port()
        ours = _start([sys.executable, "-m", "ml", "serve", "--port", str(ours_port), "--dataset", DS], env,
                      f"http://127.0.0.1:{ours_port}", root / "serve.log", "/readyz")
        theirs = None
        try:
            url = f"http://127.0.0.1:{ours_port}/v1/datasets/{DS}/decisions"
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            hundreds = [json.dumps({"applications": apps[i:i + 100]}).encode() for i in range(0, 400, 100)]
            singles = [json.dumps({"applications": [a]}).encode() for a in apps]
            took = max(seconds, 1.0)
            our_tp = _throughput(url, hundreds, headers, took)
            our_rate = _fixed_rate(url, singles, headers, rate, took)
            if tiny:
                their_tp = their_rate = None
            else:
                theirs = _start(["mlflow", "models", "serve", "-m", f"models:/{registry.model_name(DS)}@champion",
                                 "--env-manager", "local", "-p", str(theirs_port), "-h", "127.0.0.1"], env,
                                f"http://127.0.0.1:{theirs_port}", root / "mlflow-serve.log", "/ping")
                their_url = f"http://127.0.0.1:{theirs_port}/invocations"
                plain = {"Content-Type": "application/json"}
                their_hundreds = [json.dumps({"dataframe_split": {"columns": columns, "data": rows[i:i + 100]}}).encode()
                                  for i in range(0, len(rows), 100)]
                their_singles = [json.dumps({"dataframe_split": {"columns": columns, "data": [r]}}).encode()
                                 for r in rows]
                their_tp = _throughput(their_url, their_hundreds, plain, took)
                their_rate = _fixed_rate(their_url, their_singles, plain, rate, took)
            client = MlflowClient()
            swap = _fixed_rate(url, singles, headers, rate, max(took, 12.0) if not tiny else 4.0, during=lambda:
                               approvals.promote(client, registry.model_name(DS), world["versions"][1], "bench",
                                                 report=world["report"]))
        finally:
            for proc in (ours, theirs):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)
    apps_per_s = our_tp["requests_per_s"] * 100
    skipped = f"{TINY_SKIPPED} (MLflow's server is started only at full size)"
    out = [
        figure(BENCH, "riskops: 100-application requests", apps_per_s, "apps/s"),
        figure(BENCH, "riskops: single-application p50", our_rate["p50_ms"], "ms", note=f"{rate:g} req/s"),
        figure(BENCH, "riskops: single-application p99", our_rate["p99_ms"], "ms", note=f"{rate:g} req/s"),
    ]
    if their_tp is None or their_rate is None:
        out += [figure(BENCH, "throughput, riskops over MLflow", None, "x", ">= 3", note=skipped),
                figure(BENCH, "single-application p99, riskops over MLflow", None, "x", "<= 0.5", note=skipped)]
    else:
        out += [
            figure(BENCH, "MLflow: 100-row requests", their_tp["requests_per_s"] * 100, "rows/s"),
            figure(BENCH, "MLflow: single-row p50", their_rate["p50_ms"], "ms", note=f"{rate:g} req/s"),
            figure(BENCH, "MLflow: single-row p99", their_rate["p99_ms"], "ms", note=f"{rate:g} req/s"),
            figure(BENCH, "throughput, riskops over MLflow", apps_per_s / (their_tp["requests_per_s"] * 100), "x",
                   ">= 3"),
            figure(BENCH, "single-application p99, riskops over MLflow", our_rate["p99_ms"] / their_rate["p99_ms"],
                   "x", "<= 0.5"),
        ]
    out += [
        figure(BENCH, "failed requests through a champion swap", swap["failed"], "", "<= 0",
               note=f"versions answered: {', '.join(swap['versions'])}"),
        figure(BENCH, "riskops: p99 through the swap", swap["p99_ms"], "ms", note=f"{rate:g} req/s"),
    ]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement (default 10)")
    parser.add_argument("--rate", type=float, default=50.0, help="single-application requests per second (50)")
    sys.exit(table.main(figures, parser))
