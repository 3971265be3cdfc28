"""Nightly scoring, one DAG per dataset: curated day -> scores with the Production model.

Scheduled by the Asset `curated/<dataset>` that preprocessing publishes; a run scores every day
published since the previous run. `plan` pins the champion's version once for the whole run, so a
promotion during the run never mixes versions; each day is split into `partitions` slices scored in
parallel (dynamic task mapping: pods in Kubernetes mode), then `commit` publishes the day atomically;
`publish` then updates the Asset `scores/<dataset>` with the days and the model version, which schedules
monitoring. With one partition (the default) a `commit` task scores and publishes up to `days_per_task`
days in one process with one model load, each day its own atomic commit (a retry scores only the days the
run has not committed), and `score_partition` has nothing to do. Manual runs may pass `date` or `start`/`end`
(backfill), `model_version` (re-scoring), or `input`/`output` to score an analyst's file.
No Production model: `plan` fails with a message naming the approval step, and nothing is written.
While an approver has halted the model (`halt_<dataset>`), no model is loaded: the spec's fallback policy
decides every row (`scores/<ds>/date=D/model=fallback/`, `policy` = "fallback" on each row) and `publish` tells
monitoring nothing; without a fallback policy `plan` fails with one line and nothing is scored.
"""

from __future__ import annotations

from airflow.sdk import Metadata, Param, task

from riskops_airflow.assets import curated, scores
from riskops_airflow.defaults import dataset_names, invalid_specs, riskops_dag
from riskops_airflow.settings import score_days_per_task, score_partitions
from riskops_airflow.tasks import ml_step_mapped
from riskops_airflow.templates import OPTIONAL_TEXT, window_params

for dataset in dataset_names():
    with riskops_dag(
        f"score_{dataset}",
        f"Score curated {dataset} days with the Production model",
        [curated(dataset)],
        ["score", dataset],
        __doc__,
        max_active_runs=1,
        params={
            **window_params("score"),
            "model_version": Param(None, type=OPTIONAL_TEXT, description="registered version (default: champion)"),
            "partitions": Param(score_partitions(), type="integer", minimum=1, maximum=256,
                                description="slices each day is scored in, in parallel"),
            "days_per_task": Param(score_days_per_task(), type="integer", minimum=1, maximum=366,
                                   description="days one task scores with one model load (one partition)"),
            "input": Param(None, type=OPTIONAL_TEXT,
                           description="a raw file to score on demand: its name under ondemand/ in the storage root"),
            "output": Param(None, type=OPTIONAL_TEXT,
                            description="where the scores of `input` go, under ondemand/ (default <input>.scores.parquet)"),
        },
    ):

        @task(task_id="plan")
        def plan(dataset_name: str, **context) -> dict:
            from riskops_airflow.scoring_plan import plan_scoring

            return plan_scoring(dataset_name, context["params"], context.get("triggering_asset_events") or {},
                                context["run_id"])

        # dynamic mapping needs a task's plain return value, hence one small task per list
        @task(task_id="partition_jobs")
        def partition_jobs(planned: dict) -> list:
            return planned["partitions"]

        @task(task_id="commit_jobs")
        def commit_jobs(planned: dict) -> list:
            return planned["commits"]

        planned = plan(dataset)
        scored = ml_step_mapped("score_partition", partition_jobs(planned))
        committed = ml_step_mapped("commit", commit_jobs(planned), trigger_rule="none_failed")

        @task(task_id="publish", outlets=[scores(dataset)])
        def publish(dataset_name: str, planned: dict, run_key: str):
            """Tell monitoring which days the model scored, and with which version (nothing for an analyst's
            file, nor for days the fallback policy decided while the model was halted)."""
            from airflow.sdk.exceptions import AirflowSkipException

            from riskops_airflow.assets import scores as scores_asset
            from riskops_airflow.scoring_plan import published

            dates = published(dataset_name, planned, run_key)
            if not dates:
                raise AirflowSkipException("no day scored by a model to publish (an analyst's file, or the model "
                                           "is halted and the fallback policy decided)")
            yield Metadata(scores_asset(dataset_name), extra={"dates": dates, "model_version": planned["version"]})

        scored >> committed >> publish(dataset, planned, "{{ run_id }}")

invalid_specs("score")
