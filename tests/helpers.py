"""Small helpers shared by tests (imported as tests.helpers)."""

from __future__ import annotations

import datetime as dt
import socket

from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.data.spec import DatasetSpec
from ml.storage import Storage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def land_and_preprocess(storage: Storage, spec: DatasetSpec, start: dt.date, days: int) -> None:
    """Replay `days` days of a dataset and preprocess each of them."""
    end = start + dt.timedelta(days=days - 1)
    replay(storage, spec, start, end)
    for i in range(days):
        preprocess_day(storage, spec, start + dt.timedelta(days=i))


def approve(client, name: str, version: str, approver: str = "Ada", note: str = "") -> dict:  # type: ignore[no-untyped-def]
    """Promote a version trained by ml.model.retrain, with the report its MLflow run holds (as an approver would)."""
    from ml.model import decisions, registry

    return decisions.promote(client, name, version, approver, note, report=registry.report_bytes(client, name, version))
