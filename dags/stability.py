"""Stability monitoring, one DAG per dataset: is the population the model scores still the one it was built on?

Scheduled by the Asset `scores/<dataset>` that scoring publishes: a run monitors every day (and model
version) scored since the previous run, in one `python -m ml stability` step: score PSI, CSI, KS and
Jensen-Shannon distance per feature against the reference stored with the model, graded with the dataset
spec's `monitoring:` thresholds, for each day and for the ISO week and month containing it (from the days'
counts). Results go to the SQL history (RISKOPS_HISTORY_URL); re-runs replace rows. Manual runs may pass
`date` or `start`/`end` (backfill) and `model_version`.

notify: one mail to the risk team (RISKOPS_RISK_TEAM) for the windows that turned amber or red, with the
drifting features and a chart, and the weekly stability PDF of every week the run completed; neither is
sent twice. request_retraining: when a window is red on the score PSI or on enough features, the Asset
`drift/<dataset>` with the reason schedules `retrain_<dataset>`; not while a candidate still waits for
approval (the step says so in its log and in the history), and skipped when nothing calls for it.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Metadata, Param, task

from riskops_airflow.assets import drift, scores
from riskops_airflow.defaults import dataset_names, invalid_specs, riskops_dag
from riskops_airflow.tasks import ml_step_mapped
from riskops_airflow.templates import OPTIONAL_TEXT, window_params

RUN_KEY = "{{ run_id }}"  # how the step leaves its findings to the next tasks

for dataset in dataset_names():
    with riskops_dag(
        f"stability_{dataset}",
        f"Population stability of the scored {dataset} days: history, alerts, retraining on drift",
        [scores(dataset)],
        ["stability", dataset],
        __doc__,
        max_active_runs=1,
        params={
            **window_params("monitor"),
            "model_version": Param(None, type=OPTIONAL_TEXT, description="only this version's scores"),
        },
    ):

        @task(task_id="plan")
        def plan(dataset_name: str, run_key: str, **context) -> list:
            from riskops_airflow.monitoring import plan_stability

            return plan_stability(dataset_name, context["params"], context.get("triggering_asset_events") or {},
                                  run_key)

        checked = ml_step_mapped("stability", plan(dataset, RUN_KEY))

        @task(task_id="notify", retries=5, retry_delay=dt.timedelta(minutes=2))
        def notify(dataset_name: str, run_key: str) -> dict:
            from riskops_airflow.notify import send_stability_mails

            return send_stability_mails(dataset_name, run_key)

        @task(task_id="request_retraining", outlets=[drift(dataset)])
        def request_retraining(dataset_name: str, run_key: str):
            from airflow.sdk.exceptions import AirflowSkipException

            from riskops_airflow.assets import drift as drift_asset
            from riskops_airflow.monitoring import retraining_request

            extra = retraining_request(dataset_name, run_key)
            if extra is None:
                raise AirflowSkipException("no window calls for a retraining (or a candidate is still waiting)")
            yield Metadata(drift_asset(dataset_name), extra=extra)

        checked >> [notify(dataset, RUN_KEY), request_retraining(dataset, RUN_KEY)]

invalid_specs("stability")
