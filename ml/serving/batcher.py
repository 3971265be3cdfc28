"""Requests decided together: validation and scoring cost about as much for one application as for a hundred
(vectorised code with a fixed cost per call), so applications of requests that arrive while a batch is being
decided wait for the next batch and go through `decide` at once. A batch never mixes deciders (a swapped
version starts a new batch, so each request is decided wholly by the version it took), business dates, nor two
applications with the same id (validation would reject the second as a duplicate of another request's). With
no concurrent requests a request is decided at once: batching only adds work done together, never a wait."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from ml.serving.body import Application
from ml.serving.decide import Decided, Loaded, decide
from ml.spec import DatasetSpec

MAX_ROWS = 2000  # applications per batch


@dataclass
class _Request:
    applications: list[Application]
    loaded: Loaded
    day: dt.date
    done: asyncio.Future[Decided] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """One dataset's queue of requests and the task that decides them batch by batch (in the event loop's
    thread pool)."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self._pending: list[_Request] = []
        self._running: asyncio.Task[None] | None = None
        self.batches = 0

    async def decide(self, applications: list[Application], loaded: Loaded, day: dt.date) -> Decided:
        request = _Request(applications, loaded, day)
        self._pending.append(request)
        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().create_task(self._drain())
        return await request.done

    def _take(self) -> list[_Request]:
        first = self._pending.pop(0)
        batch, ids, rows = [first], {a.id for a in first.applications}, len(first.applications)
        while self._pending:
            nxt = self._pending[0]
            nxt_ids = {a.id for a in nxt.applications}
            if nxt.loaded is not first.loaded or nxt.day != first.day or ids & nxt_ids or \
                    rows + len(nxt.applications) > MAX_ROWS:
                break
            batch.append(self._pending.pop(0))
            ids |= nxt_ids
            rows += len(nxt.applications)
        return batch

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            merged = [a for r in batch for a in r.applications]
            try:
                decided = await run_in_threadpool(decide, merged, self.spec, batch[0].loaded, batch[0].day)
            except BaseException as exc:  # each request of the batch fails alike (a 500 with one line)
                for r in batch:
                    if not r.done.done():
                        r.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self.batches += 1
            for r in batch:
                mine = {id(a) for a in r.applications}
                r.done.set_result(Decided([(a, row) for a, row in decided.rows if id(a) in mine],
                                          [x for x in decided.rejected if x.id in {a.id for a in r.applications}]))
