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

    @classmethod
    def from_env(cls) -> "Settings":
        """Read RISKOPS_DATA (local folder or s3:// URL) and RISKOPS_SPECS (folder of dataset specs)."""
        home = Path(os.environ.get("RISKOPS_HOME", PROJECT_ROOT / "var"))
        return cls(
            data_url=os.environ.get("RISKOPS_DATA", str(home / "data")),
            specs_dir=Path(os.environ.get("RISKOPS_SPECS", PROJECT_ROOT / "datasets")),
        )
