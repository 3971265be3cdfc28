"""The stability DAG's glue: which days and versions a run monitors, and the retraining it requests."""

from __future__ import annotations

from typing import Any, Iterable, Mapping


def plan_stability(dataset: str, params: Mapping[str, Any], events: Mapping[Any, Iterable[Any]],
                   run_key: str) -> list[Any]:
    """One `stability` command for the run: the params' date or window (its business days, as scoring's),
    else every day (and model version) the triggering scores events published."""
    from riskops_airflow.tasks import mapped_inputs
    from riskops_airflow.templates import window_dates

    versions = [str(params["model_version"])] if params.get("model_version") else []
    named = window_dates(dataset, params)
    if named is not None:
        dates = named
    else:
        published = [e.extra for evs in events.values() for e in evs if e.extra.get("dates")]
        dates = sorted({str(d) for extra in published for d in extra["dates"]})
        versions = sorted({str(extra["model_version"]) for extra in published if extra.get("model_version")})
    if not dates:
        raise ValueError("nothing to monitor: no date, window or scores asset event in this run")
    return mapped_inputs([["stability", "--dataset", dataset, "--start", min(dates), "--end", max(dates),
                           *(arg for v in versions for arg in ("--model-version", v)), "--run-key", run_key]])


def retraining_request(dataset: str, run_key: str) -> dict[str, Any] | None:
    """The extra of the drift/<dataset> event the stability run `run_key` requests, or None: no window calls
    for a retraining, it was requested before, or a candidate is still waiting for approval."""
    from ml import layout
    from ml.monitor.stability_run import StabilityRun
    from riskops_airflow.stores import storage

    trigger = StabilityRun.read(storage(), layout.stability_run(dataset, run_key)).trigger
    if trigger is None or trigger.status != "requested":
        return None
    return {"dataset": dataset, "reason": trigger.reason, "as_of": trigger.as_of, "stability_run": run_key,
            "model_versions": sorted({w.model_version for w in trigger.windows})}
