"""What a technical file is made of, read from the stores the same way at registration and afterwards: the
spec, the candidate's summary, the training run's parameters, the window's preprocess manifests, and the
versions, decisions and champion history before the registration's timestamp."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from mlflow import MlflowClient

from ml import layout
from ml.data.preprocess import PreprocessManifest, read_manifest
from ml.dates import business_days
from ml.governance import champions, registry
from ml.governance.candidate import CandidateSummary
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key

FILE_NAME = "technical_file.pdf"  # candidates/<ds>/v=V/technical_file.pdf, beside candidate.pdf
ARTIFACT_DIR = "technical_file"  # the folder of the version's MLflow run that holds it
SHA_TAG = "technical_file_sha256"  # riskops.technical_file_sha256 on the version


@dataclass(frozen=True)
class Sources:
    """Everything a technical file is made of, as read from the stores."""

    spec: DatasetSpec
    summary: CandidateSummary
    params: dict[str, str]  # the training run's MLflow parameters
    manifests: list[PreprocessManifest]  # the preprocess manifests of the data window's business days, oldest first
    missing_days: list[str]  # the window's business days without a manifest
    versions: list[dict[str, Any]]  # {version, as_of, verdict, decisions} of versions up to this one
    champion_events: list[dict[str, Any]]  # champion history before the registration


def key(dataset: str, version: str) -> str:
    """Where the version's technical file is stored (write-once)."""
    return layout.candidate(dataset, version, FILE_NAME)


def artifact_name(name: str, version: str) -> str:
    return f"{name}-v{version}-technical-file.pdf"


# ------------------------------------------------------------------------------------------- reading

def _before(at: Any, cutoff: dt.datetime) -> bool:
    """Whether an event happened by the registration (an unreadable timestamp did not). Both are stamped to the
    second, so a promotion and the next registration in the same second compare equal: that promotion was
    before (a registration reads the champion it is compared with), hence `<=`."""
    try:
        when = dt.datetime.fromisoformat(str(at))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when <= cutoff


def gather(storage: Storage, client: MlflowClient, spec: DatasetSpec, summary: CandidateSummary) -> Sources:
    """Read a version's sources from storage and MLflow; `summary` is its candidate.json."""
    name, version = summary.model_name, summary.version
    cutoff = dt.datetime.fromisoformat(summary.registered_at)
    cutoff = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=dt.timezone.utc)
    run = registry.call(client, f"reading the training run of {name} version {version}",
                        lambda: client.get_run(summary.run_id))
    start, end = (dt.date.fromisoformat(d) for d in summary.window)
    manifests, missing = [], []
    for day in business_days(spec, start, end):
        manifest = read_manifest(storage, spec.name, day)
        if manifest is None:
            missing.append(day.isoformat())
        else:
            manifests.append(manifest)
    versions = []
    for mv in registry.versions(client, name):
        if version_key(mv.version) > version_key(version):
            continue
        trail = [e for e in registry.audit_trail(client, name, str(mv.version)) if _before(e.get("at"), cutoff)]
        tags = {k.removeprefix(registry.TAG): v for k, v in mv.tags.items() if k.startswith(registry.TAG)}
        versions.append({"version": str(mv.version), "as_of": tags.get("as_of", ""),
                         "verdict": tags.get("verdict", ""), "decisions": trail})
    events = [asdict(e) for e in champions.history(client, name) if _before(e.at, cutoff)]
    return Sources(spec=spec, summary=summary, params=dict(sorted(run.data.params.items())), manifests=manifests,
                   missing_days=missing, versions=versions, champion_events=events)
