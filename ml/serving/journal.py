"""The decision log: append-only JSON lines, one record per decision, durable before the response is sent.

Each process writes its own file (`<folder>/<host>-<pid>-<start>.jsonl`), so replicas and workers never share
one. Requests hand their records to one writer thread and wait; the writer takes everything that queued up
meanwhile, writes it in one `write`, and `fsync`s once (group commit): the cost of an fsync is shared by all
the requests it covers. A request is answered only once its records are on disk, so a process killed at any
moment has recorded every decision it answered; a line cut short by the kill was never answered, and readers
(`read`) skip it."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

ENV = "RISKOPS_DECISION_LOG"


class Record(BaseModel):
    """One decision as journalled: when, who asked, the request, a hash of the application as sent, the scored
    row as in `scores/` (id, pd, score, band, decision, hard_rule, reason_1..4, policy), the version and policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: str
    dataset: str
    business_date: str
    client: str
    request_id: str
    decision_id: str
    input_sha256: str
    row: dict[str, Any]
    model_version: str
    policy: str


class Journal:
    """The process's decision log file and its writer thread."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}-{stamp}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        _fsync_folder(folder)  # the new file's name is durable too
        self._lock = threading.Condition()
        self._queue: list[tuple[bytes, Future[None]]] = []
        self._closed = False
        self.commits = 0  # fsyncs made (each covering one or more requests)
        self._thread = threading.Thread(target=self._run, name="decision-journal", daemon=True)
        self._thread.start()

    def append(self, records: list[Record]) -> "Future[None]":
        """Queue the records of one request; the future is done once they are on disk (or failed)."""
        future: Future[None] = Future()
        data = b"".join(r.model_dump_json().encode() + b"\n" for r in records)
        with self._lock:
            if self._closed:
                future.set_exception(OSError("the decision journal is closed"))
                return future
            self._queue.append((data, future))
            self._lock.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                batch, self._queue = self._queue, []
                if not batch and self._closed:
                    return
            try:
                data = b"".join(d for d, _ in batch)
                written = 0
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                os.fsync(self._fd)
                self.commits += 1
            except OSError as exc:
                for _, future in batch:
                    future.set_exception(exc)
            else:
                for _, future in batch:
                    future.set_result(None)

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the file."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)
        os.close(self._fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(folder: Path) -> Iterator[Record]:
    """Every complete record of every journal file in the folder."""
    for path in sorted(folder.glob("*.jsonl")):
        yield from read_file(path)


def read_file(path: Path) -> Iterator[Record]:
    """The complete records of one journal file (a last line cut short by a kill is skipped: it was never
    answered)."""
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            yield Record.model_validate_json(line)
