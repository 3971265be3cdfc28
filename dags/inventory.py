"""Weekly model inventory: which champions are overdue for their periodic review?

Every Monday at 07:00 UTC, as of the run's logical date (or manually with `as_of`). One `python -m ml inventory`
step lists every dataset's champion (version, since, approvers, last backtest and its alert, latest stability
light, candidates waiting, next review due: the spec's `documentation.review_period_days` from the champion's
since-date) and leaves the list for the next task.

notify: the overdue reviews to the risk team (RISKOPS_RISK_TEAM) in one mail; none when nothing is overdue; once
per as-of date, not again on a retry or a re-run.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from riskops_airflow.defaults import cron_trigger, riskops_dag
from riskops_airflow.tasks import ml_step

AS_OF = "{{ params.as_of or (dag_run.logical_date or dag_run.run_after) | ds }}"
RUN_KEY = "{{ run_id }}"

with riskops_dag(
    "inventory",
    "Weekly model inventory: overdue model reviews mailed to the risk team",
    cron_trigger("0 7 * * 1"),
    ["inventory"],
    __doc__,
    max_active_runs=1,
    params={"as_of": Param(None, type=["null", "string"], format="date",
                           description="reviews due before this date are overdue (default: the logical date)")},
):
    listed = ml_step("inventory", ["inventory", "--as-of", AS_OF, "--run-key", RUN_KEY])

    @task(task_id="notify", retries=5, retry_delay=dt.timedelta(minutes=2))
    def notify(run_key: str) -> str | None:
        from riskops_airflow.notify import send_overdue_reviews

        return send_overdue_reviews(run_key)

    listed >> notify(RUN_KEY)
