"""Sensors that wait for data to land before a step runs."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import task

# Batches may arrive late; the sensor frees its worker slot between checks and fails (alerting) after a day.
POKE_INTERVAL = dt.timedelta(minutes=10)
WAIT_AT_MOST = dt.timedelta(hours=20)


@task.sensor(task_id="wait_for_batch", poke_interval=POKE_INTERVAL, timeout=WAIT_AT_MOST, mode="reschedule")
def wait_for_batch(dataset: str, day: str) -> bool:
    """True once the dataset's landing folder for the business date exists."""
    from ml import layout
    from ml.config import Settings
    from ml.storage import Storage

    # an empty folder is a batch with no rows
    return Storage(Settings.from_env().data_url).exists(layout.landing(dataset, dt.date.fromisoformat(day)))
