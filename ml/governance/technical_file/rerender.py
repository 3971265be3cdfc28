"""Re-render a registered version's technical file (`python -m ml document`) and compare it with the stored one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlflow import MlflowClient

from ml import contracts, layout
from ml.errors import RiskopsError
from ml.governance import registry
from ml.governance.candidate import CandidateSummary, summary_key
from ml.governance.technical_file.build import render
from ml.governance.technical_file.sources import SHA_TAG, gather
from ml.spec import DatasetSpec
from ml.storage import Storage


@dataclass(frozen=True)
class Rerendered:
    """A re-rendered technical file and how it compares with the stored one."""

    pdf: bytes
    sha256: str
    stored_sha256: str
    identical: bool


def rerender(storage: Storage, client: MlflowClient, spec: DatasetSpec, version: str) -> Rerendered:
    """Render a registered version's technical file again from its sources and compare it with the stored one.
    A version without one, or whose stored file does not match the SHA-256 tagged at registration, is refused."""
    name = registry.model_name(spec.name)
    tags = registry.tags(client, name, layout.model_version(version))  # an unknown version is refused here
    summary = contracts.read_if_exists(storage, summary_key(spec.name, version), CandidateSummary)
    if summary is None or summary.technical_file_key is None or SHA_TAG not in tags:
        raise RiskopsError(f"{name} version {version} has no technical file (it was registered before riskops "
                           "rendered them, or its registration did not complete)")
    file_key = summary.technical_file_key
    stored = storage.read_bytes(file_key) if storage.exists(file_key) else None
    if stored is None:
        raise RiskopsError(f"the technical file of {name} version {version} is missing from "
                           f"{storage.url(file_key)}")
    stored_sha = hashlib.sha256(stored).hexdigest()
    if stored_sha != tags[SHA_TAG]:
        raise RiskopsError(f"the stored technical file of {name} version {version} "
                           f"({storage.url(file_key)}) does not match the SHA-256 tagged at "
                           f"registration ({tags[SHA_TAG][:12]}...): it was changed after registration")
    pdf = render(gather(storage, client, spec, summary))
    sha = hashlib.sha256(pdf).hexdigest()
    return Rerendered(pdf=pdf, sha256=sha, stored_sha256=stored_sha, identical=sha == stored_sha)
