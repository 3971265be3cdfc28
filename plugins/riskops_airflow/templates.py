"""Jinja templates and params the DAGs share, built once instead of concatenated in every DAG file."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

OPTIONAL_TEXT = ["null", "string"]  # the JSON-schema type of a param that may be left empty


def pull(task_id: str, key: str | None = None, field: str | None = None) -> str:
    """The Jinja expression of an upstream task's XCom (or one field of it), for use inside a template."""
    return f"ti.xcom_pull(task_ids='{task_id}'" + (f", key='{key}')" if key else ")") + (f"['{field}']" if field else "")


def xcom(task_id: str, key: str | None = None, field: str | None = None, default: str | None = None) -> str:
    """A template rendering an upstream task's XCom (or one field of it, or `default` when that is empty)."""
    return "{{ " + pull(task_id, key, field) + (f" or {default!r}" if default else "") + " }}"


def drift_event(events: Any, field: str) -> str:
    """Macro: a field of the latest drift event that triggered the run ("" for a run it did not trigger)."""
    latest = [evs[-1] for evs in events.values() if evs] if events else []
    return str(latest[-1].extra.get(field, "")) if latest else ""


def mlflow_page(name: str, version: str) -> str:
    """Macro: the MLflow UI's page of a model version ("" when the tracking store has no UI: a database file)."""
    from ml.config import Settings
    from ml.governance.review import mlflow_page as page

    return page(Settings.from_env().tracking_uri, name, version) or ""


def option(flag: str, template: str) -> str:
    """`--flag=value` as one argument, so a value starting with '-' (free text) is never read as an option."""
    return f"--{flag}={template}"


def window_params(verb: str) -> dict[str, Any]:
    """The params with which a manual run names its days: `date`, or `start` and `end` (a backfill window);
    `verb` says what the run does with them ("score", "monitor"). Read with `window_dates`."""
    from airflow.sdk import Param

    return {
        "date": Param(None, type=OPTIONAL_TEXT, format="date", description=f"{verb} this business date"),
        "start": Param(None, type=OPTIONAL_TEXT, format="date", description="backfill window start"),
        "end": Param(None, type=OPTIONAL_TEXT, format="date", description="backfill window end (inclusive)"),
    }


def window_dates(dataset: str, params: Mapping[str, Any]) -> list[str] | None:
    """The days that `window_params` name: `date` as given, or the dataset's business days from `start` to
    `end` (its calendar, as the CLI's windows); None when the run names no day (it takes its asset events')."""
    if params.get("date"):
        return [str(params["date"])]
    if not (params.get("start") and params.get("end")):
        return None
    from ml.config import specs_dir
    from ml.dates import business_days
    from ml.spec import get_spec

    start, end = dt.date.fromisoformat(params["start"]), dt.date.fromisoformat(params["end"])
    return [d.isoformat() for d in business_days(get_spec(specs_dir(), dataset), start, end)]


def train_params() -> dict[str, Any]:
    """The retrain DAG's params: one per TrainConfig option, with its default, help and choices."""
    from airflow.sdk import Param

    from ml.config import TrainConfig

    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    params: dict[str, Any] = {}
    for f in TrainConfig.options():
        schema: dict[str, Any] = {"type": kinds[type(f.default)], "description": f.metadata["help"]}
        if "choices" in f.metadata:
            schema["enum"] = list(f.metadata["choices"])
        params[f.name] = Param(f.default, **schema)
    return params


def train_arguments() -> list[str]:
    """The `train` step's options, each rendered from the DAG param of the same name."""
    from ml.config import TrainConfig

    return [option(f.name.replace("_", "-"), "{{ params." + f.name + " }}") for f in TrainConfig.options()]
