"""Daily preprocessing, one DAG per dataset spec: raw landing batch -> curated + quarantine + manifest.

Business date = the run's logical date, which for scheduled runs is the start of the day whose batch
is complete (data-interval timetable); a manual run may pass `date`. The run first waits for the
day's batch to land, then runs `python -m ml preprocess`, which replaces the day's outputs atomically,
so re-running a day or a window (backfill) is safe. When the step succeeds, the same task publishes the
Asset `curated/<dataset>` with the day and its row accounting in the event, which schedules the score DAG
(a day that fails its quality gate publishes nothing).
"""

from __future__ import annotations

from airflow.sdk import Param

from riskops_airflow.assets import curated, publish_curated
from riskops_airflow.defaults import cron, dataset_names, invalid_specs, riskops_dag
from riskops_airflow.sensors import wait_for_batch
from riskops_airflow.tasks import ml_step

BUSINESS_DATE = "{{ params.date if params.date else ds }}"

for dataset in dataset_names():
    with riskops_dag(
        f"preprocess_{dataset}",
        f"Validate and curate the daily raw batch of {dataset}",
        cron("0 0 * * *"),
        ["preprocess", dataset],
        __doc__,
        max_active_runs=4,
        params={"date": Param(None, type=["null", "string"], format="date",
                              description="business date to process (default: the run's logical date)")},
    ):
        # a successful step tells consumers (scoring) which day is complete, with its row accounting
        preprocess = ml_step("preprocess", ["preprocess", "--dataset", dataset, "--date", BUSINESS_DATE],
                             outlets=[curated(dataset)], post_execute=publish_curated(dataset, BUSINESS_DATE))

        wait_for_batch(dataset, BUSINESS_DATE) >> preprocess

invalid_specs("preprocess")
