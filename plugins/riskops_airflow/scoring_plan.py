"""The score DAG's plan: which days to score, with which pinned model version, in how many slices."""

from __future__ import annotations

from typing import Any, Iterable, Mapping


def _dates(dataset: str, params: Mapping[str, Any], events: Mapping[Any, Iterable[Any]]) -> list[str]:
    from riskops_airflow.templates import window_dates

    named = window_dates(dataset, params)
    if named is not None:
        return named
    # an asset-triggered run consumes every curated day published since the previous run
    return sorted({str(e.extra["date"]) for evs in events.values() for e in evs if e.extra.get("date")})


def batches(dates: list[str], per_task: int) -> list[list[str]]:
    """Consecutive dates in as few tasks of at most `per_task` days as possible, of near-equal size."""
    tasks = -(-len(dates) // per_task)
    return [dates[len(dates) * i // tasks:len(dates) * (i + 1) // tasks] for i in range(tasks)]


def plan_scoring(dataset: str, params: Mapping[str, Any], events: Mapping[Any, Iterable[Any]],
                 run_key: str) -> dict[str, Any]:
    """Pin the model version once (while the model is halted: the fallback policy, version "fallback"), then:
    with one partition, one `score` task per batch of up to `days_per_task` days (one process and one model
    load for the batch, each day its own commit; a retry scores only the days this run has not committed);
    with more, one `score` command per (day, partition) and one commit per day."""
    from ml import layout
    from ml.config import Settings, configure_mlflow, specs_dir
    from ml.scoring import fallback
    from ml.scoring.score import champion_version
    from ml.spec import get_spec
    from riskops_airflow.tasks import mapped_inputs

    configure_mlflow(Settings.from_env())
    # the params are user input: refused here, once, rather than by every scoring task (and before MLflow)
    named = layout.model_version(str(params["model_version"])) if params.get("model_version") else None
    if params.get("input"):
        layout.ondemand_files(str(params["input"]), params.get("output") and str(params["output"]))
    # an explicit version is pinned as given, without asking MLflow; otherwise the champion is resolved unless
    # the model is halted, when no model decides: the fallback policy, or (without one) the refusal, here, once.
    # `score` checks the halt itself before it loads any model, so a halt set after this plan, or a halted
    # model's version named explicitly, still stops the model (each task then says so in one line).
    halt = None if named else fallback.halt_of(dataset)
    if halt is not None:
        fallback.fallback_policy(get_spec(specs_dir(), dataset), halt)
        version, pinned = layout.FALLBACK, []
    else:
        version = named or champion_version(dataset)
        pinned = ["--model-version", version]
    base = ["score", "--dataset", dataset, *pinned]
    if params.get("input"):  # an analyst's file, scored through the same code path
        output = ["--output", str(params["output"])] if params.get("output") else []
        return {"version": version, "partitions": [], "dates": [],
                "commits": mapped_inputs([[*base, "--input", str(params["input"]), *output]])}
    dates = _dates(dataset, params, events)
    if not dates:
        raise ValueError("nothing to score: no date, window or curated asset event in this run")
    n, per_task = int(params.get("partitions") or 1), int(params.get("days_per_task") or 1)
    run = ["--run-key", run_key]
    if n == 1:  # the commit task scores and publishes its days: half the tasks, the same bytes
        return {"version": version, "partitions": [], "dates": dates,
                "commits": mapped_inputs([[*base, *(a for d in batch for a in ("--date", d)), *run]
                                          for batch in batches(dates, per_task)])}
    return {
        "version": version, "dates": dates,
        "partitions": mapped_inputs([[*base, "--date", d, "--partition", str(i), "--partitions", str(n)]
                                     for d in dates for i in range(n)]),
        "commits": mapped_inputs([[*base, "--date", d, "--commit", "--partitions", str(n), *run] for d in dates]),
    }


def published(dataset: str, planned: Mapping[str, Any], run_key: str) -> list[str]:
    """The days of the plan that this run committed with its model version: what monitoring is told about
    (none for an analyst's file, nor for days the fallback policy decided while the model was halted)."""
    import datetime as dt

    from ml import layout
    from ml.config import specs_dir
    from ml.scoring.score import committed_by
    from ml.spec import get_spec
    from riskops_airflow.stores import storage

    if planned["version"] == layout.FALLBACK:
        return []
    spec, store = get_spec(specs_dir(), dataset), storage()
    return [d for d in planned["dates"]
            if committed_by(store, spec, dt.date.fromisoformat(d), str(planned["version"]), run_key)]
