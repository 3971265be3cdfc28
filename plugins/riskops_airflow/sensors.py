"""Sensors that wait for data to land before a step runs."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import task

# Batches may arrive late; the sensor frees its worker slot between checks and fails (alerting) after a day.
POKE_INTERVAL = dt.timedelta(minutes=10)
WAIT_AT_MOST = dt.timedelta(hours=20)


@task.sensor(task_id="wait_for_batch", poke_interval=POKE_INTERVAL, timeout=WAIT_AT_MOST, mode="reschedule")
def wait_for_batch(dataset: str, day: str) -> bool:
    """True once the dataset's batch for the business date is complete: its landing folder exists and, when the
    spec names a completion marker (`_SUCCESS`, a control file), the marker is there. On a day that is not a
    business day of the dataset's calendar the run is skipped; a batch landed on such a day fails it instead,
    so its rows are never silently left out."""
    from airflow.sdk.exceptions import AirflowSkipException

    from ml import layout
    from ml.config import specs_dir
    from ml.data.landing import batch_complete
    from ml.dates import is_business_day
    from ml.errors import RiskopsError
    from ml.spec import get_spec
    from riskops_airflow.stores import storage as data_storage

    storage, spec, date = data_storage(), get_spec(specs_dir(), dataset), dt.date.fromisoformat(day)
    if not is_business_day(spec, date):
        landing = layout.landing(dataset, date)
        if storage.exists(landing):
            raise RiskopsError(f"a batch landed in {storage.url(landing)}, but {day} is not a business day of "
                               f"'{dataset}' (calendar: {spec.calendar.days} minus its holidays): move its files "
                               "to a business day's folder, or change the dataset's calendar")
        raise AirflowSkipException(f"{day} is not a business day of '{dataset}': no batch is expected")
    # an empty folder is a batch with no rows
    return batch_complete(storage, spec, date)
