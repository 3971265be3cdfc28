"""Jinja templates and params the DAGs share, built once instead of concatenated in every DAG file."""

from __future__ import annotations

from typing import Any


def xcom(task_id: str, key: str | None = None, field: str | None = None, default: str | None = None) -> str:
    """A template rendering an upstream task's XCom (or one field of it, or `default` when that is empty)."""
    pull = f"ti.xcom_pull(task_ids='{task_id}'" + (f", key='{key}')" if key else ")")
    return "{{ " + pull + (f"['{field}']" if field else "") + (f" or {default!r}" if default else "") + " }}"


def drift_event(events: Any, field: str) -> str:
    """Macro: a field of the latest drift event that triggered the run ("" for a run it did not trigger)."""
    latest = [evs[-1] for evs in events.values() if evs] if events else []
    return str(latest[-1].extra.get(field, "")) if latest else ""


def option(flag: str, template: str) -> str:
    """`--flag=value` as one argument, so a value starting with '-' (free text) is never read as an option."""
    return f"--{flag}={template}"


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
