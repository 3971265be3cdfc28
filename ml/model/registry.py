"""The MLflow model registry as riskops uses it: candidates, champion resolution, promotion and audit.

A candidate version gets stage Staging and alias `challenger`; promotion gives stage Production and alias
`champion` and archives the previous Production version. A newer candidate supersedes every older one
still waiting for a decision (tagged superseded, archived): only the latest candidate can be approved. Stage and alias are kept in step because
approvers asked for stages while MLflow 3 favours aliases.

Source of truth for scoring: `resolve_champion`. When stage and alias agree, that version. When they
disagree, someone changed one of them directly in MLflow: the pointer that differs from riskops' last
recorded promotion is the newer, human decision and is honoured (and the other pointer is brought in step).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from ml.errors import RiskopsError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Experiment

    from ml.model.riskmodel import RiskModel

CHAMPION, CHALLENGER = "champion", "challenger"
TAG = "riskops."


def model_name(dataset: str) -> str:
    return f"riskops-{dataset}"


def experiment(client: MlflowClient, name: str, artifact_root: str | None) -> "Experiment":
    """The experiment `name`, created with its artifacts under `artifact_root` (None: the server decides)."""
    if client.get_experiment_by_name(name) is None:
        location = f"{artifact_root.rstrip('/')}/{name.replace('/', '-')}" if artifact_root else None
        client.create_experiment(name, artifact_location=location)
    # looked up, not mlflow.set_experiment(): that would also set MLFLOW_EXPERIMENT_ID for the whole process
    return client.get_experiment_by_name(name)  # type: ignore[return-value]


def log_model(model: "RiskModel", example: "pd.DataFrame") -> tuple[str, str]:
    """Log the model in the active MLflow run; returns (model URI, SHA-256 of its files).

    The files (booster + pipeline as data) are what scoring loads; the MLflow pyfunc flavour around them
    (`ml/model/pyfunc_model.py`, "model from code") is for MLflow users and is never run by riskops.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from ml.model.riskmodel import folder_sha256

    code = str(importlib.util.find_spec("ml.model.pyfunc_model").origin)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "model_dir")
        predictions = pd.DataFrame({"pd": model.predict_proba(example)})
        # integer columns may hold missing values at scoring time, so the signature declares them as doubles
        example = example.astype({c: "float64" for c in example.columns
                                  if str(example[c].dtype) in ("Int64", "int64")})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=code, artifacts={"model_dir": str(folder)},
            signature=infer_signature(example, predictions), input_example=example,
            # explicit requirements: inferring them would load the model in a subprocess for ~10 s
            pip_requirements=[*(f"{p}=={installed_version(p)}" for p in ("xgboost", "pandas", "numpy")), "riskops"],
        )
        return str(info.model_uri), folder_sha256(folder)


def load_model(client: MlflowClient, name: str, version: str) -> "RiskModel":
    """A registered version's model, read as data (booster and pipeline files) with this project's code:
    nothing stored in the artifact store is run. Its files must match the SHA-256 recorded at registration."""
    import mlflow

    from ml.model.riskmodel import RiskModel, folder_sha256

    mv = get_version(client, name, version)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=tmp))
        folder = local / "artifacts" / "model_dir"
        expected = mv.tags.get(TAG + "model_sha256")
        if expected is not None and folder_sha256(folder) != expected:
            raise RiskopsError(f"{name} version {version}: its model files do not match the SHA-256 recorded at "
                               "registration; they were changed in the artifact store, so the model is not used")
        return RiskModel.load(folder)


@contextlib.contextmanager
def _stages() -> Iterator[None]:
    # Stage APIs still work in MLflow 3 but warn on every call; we use them on purpose (see module doc).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _production_version(client: MlflowClient, name: str) -> ModelVersion | None:
    with _stages():
        try:
            versions = client.get_latest_versions(name, stages=["Production"])
        except MlflowException:
            return None
    return max(versions, key=lambda v: int(v.version)) if versions else None


@dataclass(frozen=True)
class Champion:
    version: str
    run_id: str
    source: str  # "alias+stage", "alias", "stage"


def resolve_champion(client: MlflowClient, name: str, sync: bool = True) -> Champion | None:
    """The version scoring must use, honouring a promotion made directly in MLflow; optionally re-syncs."""
    by_alias = _alias_version(client, name, CHAMPION)
    by_stage = _production_version(client, name)
    if by_alias is None and by_stage is None:
        return None
    if by_alias is not None and by_stage is not None and str(by_alias.version) == str(by_stage.version):
        return Champion(str(by_alias.version), by_alias.run_id, "alias+stage")
    if by_alias is None or by_stage is None:
        chosen, source = (by_alias, "alias") if by_alias is not None else (by_stage, "stage")
    else:
        # the pointer riskops did not set last is the human's newer decision
        alias_at, stage_at = by_alias.tags.get(TAG + "promoted_at"), by_stage.tags.get(TAG + "promoted_at")
        stage_is_ours = stage_at is not None and (alias_at is None or stage_at > alias_at)
        chosen, source = (by_alias, "alias") if stage_is_ours else (by_stage, "stage")
    assert chosen is not None
    version = str(chosen.version)
    if sync:
        _make_champion(client, name, version)
        client.set_model_version_tag(name, version, TAG + "synced_from", f"{source} set directly in MLflow")
    return Champion(version, chosen.run_id, source)


def _make_champion(client: MlflowClient, name: str, version: str) -> None:
    with _stages():
        client.transition_model_version_stage(name, version, "Production", archive_existing_versions=True)
    client.set_registered_model_alias(name, CHAMPION, version)


def register_candidate(client: MlflowClient, name: str, model_uri: str, run_id: str,
                       tags: dict[str, str]) -> str:
    """New version of the dataset's model, in Staging with alias `challenger`; returns the version."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="riskops model; champion = Production + alias 'champion'")
    # a tracking server accepts a logged model's `models:/<model id>` source only together with that id
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/") else None
    version = client.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id).version
    with _stages():
        client.transition_model_version_stage(name, version, "Staging")
    client.set_registered_model_alias(name, CHALLENGER, version)
    client.set_model_version_tag(name, version, TAG + "status", "candidate")
    return str(version)


def supersede_waiting(client: MlflowClient, name: str, version: str) -> list[str]:
    """Close every older candidate still waiting for a decision as superseded by `version`; returns them."""
    closed = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        if int(mv.version) < int(version) and mv.tags.get(TAG + "status") == "candidate":
            for key, value in {"status": "superseded", "superseded_by": str(version),
                               "superseded_at": _now()}.items():
                client.set_model_version_tag(name, mv.version, TAG + key, value)
            with _stages():
                client.transition_model_version_stage(name, mv.version, "Archived")
            closed.append(str(mv.version))
    return sorted(closed, key=int)


def status(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    """The riskops tags of a version without the prefix (status, superseded_by, approved_by, ...)."""
    return {k.removeprefix(TAG): v for k, v in get_version(client, name, version).tags.items() if k.startswith(TAG)}


def _refuse_closed(name: str, version: str, tags: dict[str, str], action: str) -> None:
    if tags.get(TAG + "status") == "superseded":
        raise RiskopsError(f"{name} version {version} was superseded by version {tags.get(TAG + 'superseded_by')} "
                           f"at {tags.get(TAG + 'superseded_at')}; {action} that version instead")


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """The registered version, or a clear error naming the model and version."""
    try:
        return client.get_model_version(name, version)
    except MlflowException:
        raise RiskopsError(f"model '{name}' has no version {version}") from None


def promote(client: MlflowClient, name: str, version: str, approver: str, note: str = "") -> dict[str, Any]:
    """Make `version` the champion (Production + alias), archive the old one, and record the audit trail."""
    mv = get_version(client, name, version)
    _refuse_closed(name, version, mv.tags, "review and approve")
    if mv.tags.get(TAG + "status") == "rejected":
        raise RiskopsError(f"{name} version {version} was rejected ({mv.tags.get(TAG + 'rejected_reason', '')}); "
                           "train a new candidate instead")
    previous = resolve_champion(client, name, sync=False)
    if previous is not None and previous.version == str(version):
        raise RiskopsError(f"{name} version {version} is already the champion")
    _make_champion(client, name, version)
    challenger = _alias_version(client, name, CHALLENGER)
    if challenger is not None and str(challenger.version) == str(version):
        client.delete_registered_model_alias(name, CHALLENGER)
    audit = {
        "status": "champion",
        "approved_by": approver,
        "promoted_at": _now(),
        "report_sha256": mv.tags.get(TAG + "report_sha256", "unknown"),
        "data_hash": mv.tags.get(TAG + "data_hash", "unknown"),
        "previous_champion": previous.version if previous else "none",
        "approval_note": note,
    }
    for key, value in audit.items():
        client.set_model_version_tag(name, version, TAG + key, value)
    if previous is not None:
        client.set_model_version_tag(name, previous.version, TAG + "status", "archived")
        client.set_model_version_tag(name, previous.version, TAG + "archived_at", audit["promoted_at"])
        client.set_model_version_tag(name, previous.version, TAG + "replaced_by", str(version))
    return audit


def reject(client: MlflowClient, name: str, version: str, approver: str, reason: str) -> dict[str, Any]:
    """Tag the candidate rejected with the reason, archive it and drop its challenger alias."""
    _refuse_closed(name, version, get_version(client, name, version).tags, "review")
    champion = resolve_champion(client, name, sync=False)
    if champion is not None and champion.version == str(version):
        raise RiskopsError(f"{name} version {version} is the champion; promote another version instead")
    audit = {"status": "rejected", "rejected_by": approver, "rejected_at": _now(),
             "rejected_reason": reason or "no reason given"}
    for key, value in audit.items():
        client.set_model_version_tag(name, version, TAG + key, value)
    with _stages():
        client.transition_model_version_stage(name, version, "Archived")
    challenger = _alias_version(client, name, CHALLENGER)
    if challenger is not None and str(challenger.version) == str(version):
        client.delete_registered_model_alias(name, CHALLENGER)
    return audit
