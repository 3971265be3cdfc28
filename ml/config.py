"""Settings, in one place: the runtime environment (every RISKOPS_* and MLflow variable the steps read) and
the training configuration whose defaults and choices the CLI and the retrain DAG's params are built from.

Light on purpose (standard library only): DAG files import it when they are parsed. The settings only DAG
parsing reads (task mode, pods, cron switch, on-call) stay in the plugin's `riskops_airflow.settings`, which
takes their parsers and every shared default from here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def addresses(value: str) -> tuple[str, ...]:
    """A comma-separated list (mail addresses, user ids) as its non-blank items."""
    return tuple(a.strip() for a in value.split(",") if a.strip())


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """The value of the variable `name`, lower-cased, if it is one of `allowed`; else a ValueError naming it."""
    value = value.strip().lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def switch(name: str, value: str) -> bool:
    """An on/off variable: True for on."""
    if value.strip().lower() not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, not '{value}'")
    return value.strip().lower() == "on"


def specs_dir() -> Path:
    """RISKOPS_SPECS: the folder of dataset spec files."""
    return Path(os.environ.get("RISKOPS_SPECS", PROJECT_ROOT / "datasets"))


def mail_from() -> str:
    """RISKOPS_MAIL_FROM: the sender of every riskops mail."""
    return os.environ.get("RISKOPS_MAIL_FROM", "riskops@localhost")


def whole_number(name: str, value: str, low: int, high: int) -> int:
    """The variable `name` as a whole number from `low` to `high`; else a ValueError naming it."""
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not '{value}'")
    return int(value)


def masked(uri: str) -> str:
    """A URI as it may be shown: a password in it is replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if not parts.password:
        return uri
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname}{port}"))


MAX_QUORUM = 10


@dataclass(frozen=True)
class Settings:
    """The runtime environment; defaults are the embedded layout under RISKOPS_HOME."""

    home: Path
    data_url: str  # RISKOPS_DATA: a local folder or an fsspec URL (s3://bucket/prefix)
    specs_dir: Path
    tracking_uri: str
    artifact_root: str | None  # where new experiments keep artifacts; None lets a tracking server decide
    approvers: tuple[str, ...]  # mail addresses that receive candidate reports
    mail_from: str
    risk_team: tuple[str, ...]  # mail addresses that receive stability alerts and weekly reports
    history_url: str  # SQLAlchemy URL of the monitoring history
    approver_users: tuple[str, ...]  # Airflow users who may approve; empty: anyone who can open the DAG
    separate_duties: bool  # whoever triggered or trained a version (or requested a rollback) may not approve it
    approval_quorum: int  # distinct approvers a promotion or rollback needs at least (a spec may ask for more)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        home = Path(env.get("RISKOPS_HOME", PROJECT_ROOT / "var"))
        tracking = env.get("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        default_artifacts = (home / "mlflow" / "artifacts").as_uri() if tracking.startswith("sqlite:") else None
        return cls(
            home=home,
            data_url=env.get("RISKOPS_DATA", str(home / "data")),
            specs_dir=specs_dir(),
            tracking_uri=tracking,
            artifact_root=env.get("RISKOPS_MLFLOW_ARTIFACTS", default_artifacts),
            approvers=addresses(env.get("RISKOPS_APPROVERS", "risk-committee@example.com")),
            mail_from=mail_from(),
            risk_team=addresses(env.get("RISKOPS_RISK_TEAM", "risk-team@example.com")),
            history_url=env.get("RISKOPS_HISTORY_URL", f"sqlite:///{home / 'history' / 'history.db'}"),
            approver_users=addresses(env.get("RISKOPS_APPROVER_USERS", "")),
            separate_duties=switch("RISKOPS_SEPARATE_DUTIES", env.get("RISKOPS_SEPARATE_DUTIES", "off")),
            approval_quorum=whole_number("RISKOPS_APPROVAL_QUORUM", env.get("RISKOPS_APPROVAL_QUORUM", "1"), 1,
                                         MAX_QUORUM),
        )


# MLflow's own HTTP retry settings, bounded so an unreachable server fails a step in about a minute and
# Airflow's retries do the waiting (MLflow's defaults retry for ~4 minutes per call). Set them to override.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                        "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow's tracking and registry at the same store, bound its HTTP retries, and keep its INFO
    chatter out of user output."""
    import logging

    import mlflow

    for key, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.tracking_uri)
    # the registry URI must follow: a stale MLFLOW_REGISTRY_URI would silently point at another store
    mlflow.set_registry_uri(settings.tracking_uri)


THRESHOLD_METHODS = ("fbeta", "cost")
CALIBRATIONS = ("auto", "platt", "isotonic", "none")
ALGORITHMS = ("xgboost", "scorecard")


@dataclass(frozen=True)
class TrainConfig:
    """How a candidate is trained and judged; every field is a CLI option and a retrain DAG param."""

    window_days: int = field(default=30, metadata={"help": "business days in the development window"})
    valid_days: int = field(default=4, metadata={"help": "days before the test period, for early stopping "
                                                         "and the threshold"})
    test_days: int = field(default=7, metadata={"help": "most recent days, held out as the out-of-time test"})
    beta: float = field(default=2.0, metadata={"help": "F-beta used to choose the threshold (recall weighted "
                                                       "beta times precision)"})
    threshold_method: str = field(default="fbeta", metadata={
        "help": "fbeta, or cost: a missed positive costs its exposure, a flagged negative a review",
        "choices": THRESHOLD_METHODS})
    review_cost: float = field(default=25.0, metadata={"help": "cost of reviewing a flagged negative (cost method)"})
    cost_sensitive: bool = field(default=False, metadata={"help": "weight rows by the spec's exposure column"})
    calibration: str = field(default="auto", metadata={
        "help": "calibration map of the PDs fitted on validation: platt, isotonic, none, or auto (platt when "
                "cost-sensitive weights distort the PDs, else none)", "choices": CALIBRATIONS})
    margin: float = field(default=0.005, metadata={"help": "AUC gain over the champion needed to recommend"})
    algorithm: str = field(default="xgboost", metadata={
        "help": "the candidate registered: xgboost, or scorecard (WoE bins and a logistic regression, number "
                "features only); the other is shown beside it in the report", "choices": ALGORITHMS})
    num_boost_round: int = 2000
    early_stopping_rounds: int = 100
    seed: int = 42
    params: dict[str, Any] = field(default_factory=dict)  # XGBoost parameters over the defaults

    def __post_init__(self) -> None:
        problems = []
        if self.threshold_method not in THRESHOLD_METHODS:
            problems.append(f"threshold method must be one of {', '.join(THRESHOLD_METHODS)}, "
                            f"not '{self.threshold_method}'")
        if self.algorithm not in ALGORITHMS:
            problems.append(f"algorithm must be one of {', '.join(ALGORITHMS)}, not '{self.algorithm}'")
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration must be one of {', '.join(CALIBRATIONS)}, not '{self.calibration}'")
        for name in ("valid_days", "test_days", "num_boost_round", "early_stopping_rounds"):
            if getattr(self, name) < 1:
                problems.append(f"{name.replace('_', ' ')} must be at least 1, not {getattr(self, name)}")
        if self.window_days < self.valid_days + self.test_days + 1:
            problems.append(f"window days ({self.window_days}) must be at least valid days + test days + 1 "
                            f"({self.valid_days + self.test_days + 1}), to leave days to train on")
        for name in ("beta", "review_cost"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                problems.append(f"{name.replace('_', ' ')} must be a positive number, not {getattr(self, name)}")
        if not (math.isfinite(self.margin) and self.margin >= 0):
            problems.append(f"margin must be zero or a positive number, not {self.margin}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def calibration_method(self) -> str | None:
        """The calibration map training fits, or None."""
        method = ("platt" if self.cost_sensitive else "none") if self.calibration == "auto" else self.calibration
        return None if method == "none" else method

    @classmethod
    def options(cls) -> list[Any]:
        """The fields a user sets (CLI options, DAG params), with their defaults, help and choices."""
        return [f for f in fields(cls) if "help" in f.metadata]
