"""Weekly backtest, one DAG per dataset: how did the Production model do on applicants whose outcomes are known?

Every Monday at 06:00 UTC, as of the run's logical date (that Monday; a backfill over a range of weeks runs
one per Monday), or manually with `as_of`. One `python -m ml backtest` step: scores joined with the labels
matured by the as-of date, judged per ISO week and model version over `weeks` weeks (AUC with DeLong
interval, KS, Brier, calibration by band with Jeffreys tests, rank ordering, concentration, the AUC drop
since development), the label-free estimate for the weeks not matured yet, a candidate waiting in Staging
as shadow challenger; results into the SQL history (re-runs replace rows), each week's figures to MLflow
on the version's training run, the PDF stored under reports/backtest/. A window with no matured rows is
reported as such, not failed.

notify: the PDF to the risk team (RISKOPS_RISK_TEAM), its subject and first lines saying the alerts (a
significant AUC drop, more Jeffreys rejections than the spec allows, a rank-order inversion); once per
as-of date, not again on a retry or a re-run.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from riskops_airflow.defaults import cron_trigger, dataset_names, invalid_specs, riskops_dag
from riskops_airflow.tasks import ml_step
from riskops_airflow.templates import option

# a run triggered without a logical date is as of the day it runs
AS_OF = "{{ params.as_of or (dag_run.logical_date or dag_run.run_after) | ds }}"
RUN_KEY = "{{ run_id }}"  # how the step leaves the report's mail to the next task

for dataset in dataset_names():
    with riskops_dag(
        f"backtest_{dataset}",
        f"Weekly backtest of the {dataset} model on matured outcomes: history, MLflow, PDF to the risk team",
        cron_trigger("0 6 * * 1"),
        ["backtest", dataset],
        __doc__,
        max_active_runs=1,
        params={
            "as_of": Param(None, type=["null", "string"], format="date",
                           description="outcomes known by this date are judged (default: the logical date)"),
            "weeks": Param(12, type="integer", minimum=1, maximum=104,
                           description="ISO weeks judged up to the last matured day, and estimated after it"),
        },
    ):
        backtest = ml_step("backtest", ["backtest", "--dataset", dataset, "--as-of", AS_OF,
                                        option("weeks", "{{ params.weeks }}"), "--run-key", RUN_KEY])

        @task(task_id="notify", retries=5, retry_delay=dt.timedelta(minutes=2))
        def notify(dataset_name: str, run_key: str) -> str | None:
            from riskops_airflow.notify import send_backtest_mail

            return send_backtest_mail(dataset_name, run_key)

        backtest >> notify(dataset, RUN_KEY)

invalid_specs("backtest")
