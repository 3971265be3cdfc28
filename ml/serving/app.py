"""The decision service's HTTP API (FastAPI under uvicorn):

- `POST /v1/datasets/{dataset}/decisions` (bearer token): applications in, decisions and rejections out, each
  decision journalled durably before the answer;
- `GET /v1/datasets/{dataset}/champion` (bearer token): what decides the dataset, since when, approved by whom,
  its report's SHA-256, halted or not;
- `GET /healthz`, `GET /readyz`, `GET /metrics` (no token).

Every refusal is a 4xx or 503 with `{"error": "<one line>"}`; an unexpected failure is a 500 with one line (the
traceback goes to the service's log, never to the client)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ml.serving import body as bodies
from ml.serving import decide as deciding
from ml.serving.auth import Tokens
from ml.serving.batcher import Batcher
from ml.serving.follower import Follower
from ml.serving.journal import Journal, Record
from ml.serving.metrics import Metrics
from ml.spec import DatasetSpec, shown

log = logging.getLogger("riskops.serve")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass
class Service:
    """What the routes share: the served specs, the tokens, the follower, the journal and the metrics."""

    specs: Mapping[str, DatasetSpec]
    tokens: Tokens
    follower: Follower
    journal: Journal
    metrics: Metrics
    batchers: dict[str, Batcher] = field(default_factory=dict)

    def batcher(self, dataset: str) -> Batcher:
        if dataset not in self.batchers:
            self.batchers[dataset] = Batcher(self.specs[dataset])
        return self.batchers[dataset]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _canonical(application: bodies.Application) -> bytes:
    return json.dumps({"id": application.id, **application.fields}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise bodies.BodyError(413, f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise bodies.BodyError(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(service: Service) -> FastAPI:
    """The FastAPI app over a service; its lifespan polls once (so /readyz is true as soon as it can be), starts
    the follower and, at shutdown, stops it and closes the journal."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.follower.poll)
        service.follower.start()
        try:
            yield
        finally:
            service.follower.stop()
            service.journal.close()

    app = FastAPI(title="riskops decisions", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected failure on %s %s", request.method, request.url.path)
        return _error(500, "internal error: the request was not decided (the service's log has the details)")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "up"}

    @app.get("/readyz")
    async def readyz() -> Response:
        current = service.follower.current
        waiting = [n for n in service.specs if n not in current or current[n].policy == "none"]
        if waiting:
            return _error(503, f"not ready: nothing decides {', '.join(sorted(waiting))} (no champion loaded and no "
                               "fallback policy)")
        return JSONResponse({"status": "ready", "datasets": {n: current[n].version for n in sorted(current)}})

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(service.metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/datasets/{dataset}/champion")
    async def champion(dataset: str, request: Request) -> Response:
        if service.tokens.client(request.headers.get("authorization")) is None:
            return _error(401, "a valid bearer token is required (Authorization: Bearer <token>)")
        if dataset not in service.specs:
            return _error(404, f"unknown dataset {shown(dataset)}: not served here")
        loaded = service.follower.current.get(dataset)
        if loaded is None:
            return _error(503, f"nothing decides '{dataset}' yet (no champion loaded)")
        t, halt = loaded.trusted, loaded.trusted.halt
        return JSONResponse({
            "dataset": dataset, "model": t.model_name, "model_version": t.version, "policy": loaded.policy,
            "serving": loaded.version, "since": t.since, "approved_by": t.approved_by,
            "report_sha256": t.report_sha256, "model_sha256": t.model_sha256, "halted": halt is not None,
            **({"halt": {"by": halt.by, "at": halt.at, "reason": halt.reason}} if halt is not None else {})})

    @app.post("/v1/datasets/{dataset}/decisions")
    async def decisions(dataset: str, request: Request) -> Response:
        started = time.perf_counter()
        status, outcome, response = await _decisions(service, dataset, request)
        service.metrics.request(dataset if dataset in service.specs else "unknown", outcome, status,
                                time.perf_counter() - started)
        return response

    return app


async def _decisions(service: Service, dataset: str, request: Request) -> tuple[int, str, Response]:
    client = service.tokens.client(request.headers.get("authorization"))
    if client is None:
        return 401, "unauthorized", _error(401, "a valid bearer token is required (Authorization: Bearer <token>)")
    spec = service.specs.get(dataset)
    if spec is None:
        return 404, "unknown_dataset", _error(404, f"unknown dataset {shown(dataset)}: not served here")
    try:
        raw = await _read_bounded(request, spec.serving.max_body_bytes)
        applications = bodies.applications(bodies.parse_json(raw), spec)
    except bodies.BodyError as exc:
        return exc.status, "refused", _error(exc.status, exc.message)
    loaded = service.follower.current.get(dataset)  # the one reference this request is decided with, wholly
    if loaded is None or loaded.policy == "none":
        halt = loaded.trusted.halt if loaded is not None else None
        why = f"{halt.text()}, and the spec has no fallback policy" if halt is not None else "no champion is loaded"
        return 503, "unavailable", _error(503, f"'{dataset}' cannot be decided now: {why}")
    now = dt.datetime.now(dt.timezone.utc)
    decided = await service.batcher(dataset).decide(applications, loaded, now.date())
    given = request.headers.get("x-request-id", "")
    request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    out, records = [], []
    for application, row in decided.rows:
        decision_id = uuid.uuid4().hex
        records.append(Record(time=now.isoformat(timespec="microseconds"), dataset=dataset,
                              business_date=now.date().isoformat(), client=client, request_id=request_id,
                              decision_id=decision_id,
                              input_sha256=hashlib.sha256(_canonical(application)).hexdigest(), row=row,
                              model_version=loaded.version, policy=loaded.policy))
        out.append({"id": application.id, "decision_id": decision_id, "decision": row["decision"], "pd": row["pd"],
                    "score": row["score"], "band": row["band"], "hard_rule": row["hard_rule"],
                    "reasons": deciding.reasons(row, loaded)})
    if records:
        await asyncio.wrap_future(service.journal.append(records))  # durable before the answer
    for _, row in decided.rows:
        service.metrics.decided(dataset, loaded.version, loaded.policy, str(row["decision"]))
    payload: dict[str, Any] = {
        "model_version": loaded.pinned.version if loaded.pinned is not None else None, "policy": loaded.policy,
        "request_id": request_id, "decisions": out,
        "rejected": [{"id": r.id, "column": r.column, "reason": r.reason} for r in decided.rejected]}
    return 200, "decided", JSONResponse(payload, headers={"x-request-id": request_id})
