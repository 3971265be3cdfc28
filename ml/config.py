"""Runtime settings read from environment variables, so every mode (embedded, compose, k8s) uses one code path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    data_url: str
    specs_dir: Path
    tracking_uri: str
    artifact_root: str | None  # where new experiments keep artifacts; None lets a tracking server decide

    @classmethod
    def from_env(cls) -> "Settings":
        """Read RISKOPS_* and MLFLOW_TRACKING_URI; defaults are the embedded layout under RISKOPS_HOME."""
        home = Path(os.environ.get("RISKOPS_HOME", PROJECT_ROOT / "var"))
        tracking = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        default_artifacts = (home / "mlflow" / "artifacts").as_uri() if tracking.startswith("sqlite:") else None
        return cls(
            data_url=os.environ.get("RISKOPS_DATA", str(home / "data")),
            specs_dir=Path(os.environ.get("RISKOPS_SPECS", PROJECT_ROOT / "datasets")),
            tracking_uri=tracking,
            artifact_root=os.environ.get("RISKOPS_MLFLOW_ARTIFACTS", default_artifacts),
        )


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow's tracking and registry at the same store, and keep its INFO chatter out of user output."""
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.tracking_uri)
    # the registry URI must follow: a stale MLFLOW_REGISTRY_URI would silently point at another store
    mlflow.set_registry_uri(settings.tracking_uri)
