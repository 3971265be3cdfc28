"""Values DAG files read when they are parsed, from the environment; the one place parse time reads it.

Parsing must stay cheap and side-effect free, so nothing here imports `ml` (pandas, MLflow) or opens a
connection; runtime settings of the steps themselves live in `ml.config`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def specs_dir() -> Path:
    """Where dataset specs live (same default as ml.config)."""
    return Path(os.environ.get("RISKOPS_SPECS", PROJECT_ROOT / "datasets"))


def cron_schedules() -> bool:
    """Whether DAGs keep their cron schedules (RISKOPS_CRON_SCHEDULES=on, the default) or run only when
    triggered or by Assets (off: the embedded demo, which drives every business date itself)."""
    return _choice("RISKOPS_CRON_SCHEDULES", "on", ("on", "off")) == "on"
