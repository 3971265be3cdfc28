"""The MLflow model registry as riskops reads and writes it: versions, pointers, tags, models as data.

A registered model is `riskops-<dataset>`; its champion is the version with stage Production *and* alias
`champion`, a waiting candidate has stage Staging and alias `challenger` (stages because approvers asked for
them, aliases because MLflow 3 favours them). Approvals of versions (promote, reject, supersede, which
version may score) live in `ml.governance.approvals`.

MLflow is a remote service here: "does not exist" and "cannot answer" are different answers. Only the
first is turned into None; everything else becomes a `RegistryError` naming the tracking URI, and MLflow's
HTTP retries are bounded (`ml.config.configure_mlflow`) so a step fails in seconds, not minutes, and
Airflow's retries do the waiting.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import tempfile
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from ml.config import masked
from ml.errors import RiskopsError
from ml.versions import version_key

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Experiment

    from ml.model.riskmodel import RiskModel

CHAMPION, CHALLENGER = "champion", "challenger"
TAG = "riskops."
# riskops.decision.1, .2, ...: the append-only audit trail of a version (the tag keeps its first name: stored data)
AUDIT = TAG + "decision."
T = TypeVar("T")


class RegistryError(RiskopsError):
    """MLflow could not be reached or answered with an error (as opposed to: the thing does not exist)."""


def model_name(dataset: str) -> str:
    return f"riskops-{dataset}"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _missing(exc: MlflowException) -> bool:
    return bool(exc.error_code == "RESOURCE_DOES_NOT_EXIST")


def failure(client: MlflowClient, what: str, exc: BaseException) -> RegistryError:
    """A RegistryError naming the tracking URI, what was being done and the first line of MLflow's answer."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RegistryError(f"MLflow at {_safe_uri(client)} failed while {what}: {first[:300]}")


def call(client: MlflowClient, what: str, fn: Callable[[], T]) -> T:
    """Run one MLflow call; any failure becomes a RegistryError."""
    try:
        return fn()
    except RegistryError:
        raise
    except Exception as exc:  # MlflowException, requests' connection errors, database errors of a local store
        raise failure(client, what, exc) from exc


def _safe_uri(client: MlflowClient) -> str:
    # the registry follows the tracking URI (ml.config.configure_mlflow), so that URI names the store;
    # credentials in it are never shown
    return masked(str(client.tracking_uri))


@contextlib.contextmanager
def _stages() -> Iterator[None]:
    # Stage APIs still work in MLflow 3 but warn on every call; we use them on purpose (see module doc).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """The registered version; a clear error when it does not exist, a RegistryError when MLflow fails."""
    from ml.layout import model_version

    model_version(version)  # user input: "abc" is refused here, not by MLflow as a failure
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _missing(exc):
            raise RiskopsError(f"model '{name}' has no version {version}") from exc
        raise failure(client, f"reading {name} version {version}", exc) from exc
    except Exception as exc:
        raise failure(client, f"reading {name} version {version}", exc) from exc


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of the model, oldest first; empty when the model is not registered."""
    found = call(client, f"listing the versions of {name}",
                 lambda: client.search_model_versions(f"name = '{name}'"))
    return sorted(found, key=lambda v: version_key(v.version))


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at; None when the model or the alias does not exist."""
    if not is_registered(client, name):
        return None
    aliases = call(client, f"reading the aliases of {name}", lambda: client.get_registered_model(name).aliases)
    return get_version(client, name, aliases[alias]) if alias in aliases else None


def production_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The (latest) version in stage Production; None when there is none."""
    found = [v for v in versions(client, name) if stage_of(v) == "Production"]
    return found[-1] if found else None


def stage_of(mv: ModelVersion) -> str:
    """A version's stage, read without MLflow's deprecation warning."""
    with _stages():
        return str(mv.current_stage)


def stage(client: MlflowClient, name: str, version: str) -> str:
    return stage_of(get_version(client, name, version))


def set_stage(client: MlflowClient, name: str, version: str, stage_name: str, archive_others: bool = False) -> None:
    with _stages():
        call(client, f"moving {name} version {version} to {stage_name}", lambda: client.transition_model_version_stage(
            name, str(version), stage_name, archive_existing_versions=archive_others))


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    call(client, f"pointing alias {alias} of {name} at version {version}",
         lambda: client.set_registered_model_alias(name, alias, str(version)))


def drop_alias_if(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Delete `alias` when it points at `version` (a consumed challenger), leave it otherwise."""
    current = alias_version(client, name, alias)
    if current is not None and str(current.version) == str(version):
        call(client, f"deleting alias {alias} of {name}", lambda: client.delete_registered_model_alias(name, alias))


def tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    """The riskops tags of a version without the prefix (status, superseded_by, approved_by, ...)."""
    return {k.removeprefix(TAG): v for k, v in get_version(client, name, version).tags.items() if k.startswith(TAG)}


def set_tags(client: MlflowClient, name: str, version: str, values: dict[str, str], once: bool = False) -> None:
    """Set riskops tags; with `once`, only those the version does not carry yet (earlier decisions stay)."""
    existing = tags(client, name, version) if once else {}
    for key, value in values.items():
        if key not in existing:
            call(client, f"tagging {name} version {version}",
                 partial(client.set_model_version_tag, name, str(version), TAG + key, str(value)))


def audit_trail(client: MlflowClient, name: str, version: str) -> list[dict[str, Any]]:
    """The version's audit trail, in order."""
    found = {int(k.removeprefix("decision.")): json.loads(v) for k, v in tags(client, name, version).items()
             if k.startswith("decision.") and k.removeprefix("decision.").isdigit()}
    return [found[i] for i in sorted(found)]


def append_audit(client: MlflowClient, name: str, version: str, entry: dict[str, Any]) -> None:
    """Add an entry to the version's audit trail (`riskops.decision.N`); an entry already there (same `id`,
    when given: a retried step) is not added twice."""
    trail = audit_trail(client, name, version)
    if entry.get("id") and any(e.get("id") == entry["id"] for e in trail):
        return
    call(client, f"recording an audit entry of {name} version {version}", lambda: client.set_model_version_tag(
        name, str(version), f"{AUDIT}{len(trail) + 1}", json.dumps(entry, sort_keys=True)))


def model_tags(client: MlflowClient, name: str) -> dict[str, str]:
    """The riskops tags of the registered model itself (not of a version), without the prefix; empty when the
    model is not registered."""
    if not is_registered(client, name):
        return {}
    found = call(client, f"reading the tags of {name}", lambda: client.get_registered_model(name).tags)
    return {k.removeprefix(TAG): v for k, v in found.items() if k.startswith(TAG)}


def set_model_tag(client: MlflowClient, name: str, key: str, value: str) -> None:
    """Set a riskops tag on the registered model (registering the model name if needed)."""
    _ensure_registered(client, name)
    call(client, f"tagging {name}", lambda: client.set_registered_model_tag(name, TAG + key, value))


def delete_model_tag(client: MlflowClient, name: str, key: str) -> None:
    """Remove a riskops tag from the registered model; nothing happens when it is not there."""
    if key in model_tags(client, name):
        call(client, f"untagging {name}", lambda: client.delete_registered_model_tag(name, TAG + key))


def is_registered(client: MlflowClient, name: str) -> bool:
    try:
        client.get_registered_model(name)
        return True
    except MlflowException as exc:
        if _missing(exc):
            return False
        raise failure(client, f"reading {name}", exc) from exc
    except Exception as exc:
        raise failure(client, f"reading {name}", exc) from exc


def _ensure_registered(client: MlflowClient, name: str) -> None:
    if not is_registered(client, name):
        call(client, f"registering {name}", lambda: client.create_registered_model(
            name, description="riskops model; champion = Production + alias 'champion'"))


def register_version(client: MlflowClient, name: str, model_uri: str, run_id: str,
                     version_tags: dict[str, str]) -> str:
    """New version of the dataset's model, not a candidate yet (no stage, no alias, no status); returns it."""
    _ensure_registered(client, name)
    # an MLflow 3 logged model (models:/m-<id>) is registered with its id, which a tracking server requires
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    return str(call(client, f"registering a version of {name}", lambda: client.create_model_version(
        name, model_uri, run_id=run_id, tags=version_tags, model_id=model_id)).version)


def make_candidate(client: MlflowClient, name: str, version: str) -> None:
    """Put a registered version up for approval: stage Staging, alias `challenger`, status candidate (last: what
    the approval and monitoring look for)."""
    set_stage(client, name, version, "Staging")
    set_alias(client, name, CHALLENGER, version)
    set_tags(client, name, version, {"status": "candidate"})


def register_candidate(client: MlflowClient, name: str, model_uri: str, run_id: str,
                       version_tags: dict[str, str]) -> str:
    """New version of the dataset's model, in Staging with alias `challenger`; returns the version."""
    version = register_version(client, name, model_uri, run_id, version_tags)
    make_candidate(client, name, version)
    return version


def delete_version(client: MlflowClient, name: str, version: str) -> None:
    """Remove a version (MLflow keeps its number taken: the next version gets a new one)."""
    call(client, f"deleting {name} version {version}", lambda: client.delete_model_version(name, str(version)))


def experiment(client: MlflowClient, name: str, artifact_root: str | None) -> "Experiment":
    """The experiment `name`, created with its artifacts under `artifact_root` (None: the server decides)."""
    if call(client, f"reading experiment {name}", lambda: client.get_experiment_by_name(name)) is None:
        location = f"{artifact_root.rstrip('/')}/{name.replace('/', '-')}" if artifact_root else None
        call(client, f"creating experiment {name}", lambda: client.create_experiment(name, artifact_location=location))
    # looked up, not mlflow.set_experiment(): that would also set MLFLOW_EXPERIMENT_ID for the whole process
    found = call(client, f"reading experiment {name}", lambda: client.get_experiment_by_name(name))
    assert found is not None  # it existed or was created just above
    return found


def log_model(model: "RiskModel", example: "pd.DataFrame") -> tuple[str, str]:
    """Log the model in the active MLflow run; returns (model URI, SHA-256 of its files).

    The files (booster + pipeline as data) are what scoring loads; the MLflow pyfunc flavour around them
    (`ml/model/pyfunc_model.py`, "model from code") is for MLflow users and is never run by riskops.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from ml.model.riskmodel import folder_sha256

    code = str(importlib.util.find_spec("ml.model.pyfunc_model").origin)  # type: ignore[union-attr]  # ours: found
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
            pip_requirements=[*(_requirement(m) for m in ("xgboost", "pandas", "numpy")), "riskops"],
        )
        return str(info.model_uri), folder_sha256(folder)


def _requirement(module: str) -> str:
    """`name==version` of the installed distribution that provides `module`: in the images xgboost is the
    CPU-only build, distributed as xgboost-cpu (no distribution named xgboost is installed there)."""
    from importlib.metadata import packages_distributions

    dist = packages_distributions().get(module, [module])[0]
    return f"{dist}=={installed_version(dist)}"


def load_model(client: MlflowClient, name: str, version: str) -> "RiskModel":
    """A registered version's model, read as data (booster and pipeline files) with this project's code:
    nothing stored in the artifact store is run. Its files must match the SHA-256 recorded at registration."""
    import mlflow

    from ml.model.riskmodel import RiskModel, folder_sha256

    mv = get_version(client, name, version)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(call(client, f"downloading {name} version {version}", lambda: mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp)))
        folder = local / "artifacts" / "model_dir"
        expected = mv.tags.get(TAG + "model_sha256")
        if expected is not None and folder_sha256(folder) != expected:
            raise RiskopsError(f"{name} version {version}: its model files do not match the SHA-256 recorded at "
                               "registration; they were changed in the artifact store, so the model is not used")
        return RiskModel.load(folder)


def report_bytes(client: MlflowClient, name: str, version: str) -> bytes | None:
    """The candidate PDF logged with the version's MLflow run (report/<name>-v<version>.pdf), if any."""
    import mlflow

    run_id = get_version(client, name, version).run_id
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"report/{name}-v{version}.pdf",
                                                       dst_path=tmp)
        except (MlflowException, OSError):
            return None
        return Path(path).read_bytes()
