"""What an approver reviews of a version: the files logged with its MLflow run under `report/` (the candidate
PDF) and `technical_file/` (the technical file, when the run has one), each with its SHA-256 and the one recorded
on the version.

Both hashes are recorded at registration (tags `riskops.report_sha256`, `riskops.technical_file_sha256`), and an
approval is bound to the report's; a file whose bytes do not match is shown as such, never as what was approved.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.governance import registry, technical_file

# what an approver reviews, as retraining logs it in the version's run: (folder, file name, the version tag
# recording its SHA-256)
FILES: tuple[tuple[str, Callable[[str, str], str], str], ...] = (
    ("report", lambda name, version: f"{name}-v{version}.pdf", "report_sha256"),
    (technical_file.ARTIFACT_DIR, technical_file.artifact_name, technical_file.SHA_TAG))


@dataclass(frozen=True)
class Document:
    """One file of a version's review, as stored."""

    name: str  # the file's name in the run
    content: bytes
    sha256: str  # of the bytes served
    recorded_sha256: str | None  # what the version records for it (None: nothing recorded)

    @property
    def verified(self) -> bool:
        """True when the version records a hash for this file and the bytes match it."""
        return self.recorded_sha256 is not None and self.recorded_sha256 == self.sha256


def documents(client: MlflowClient, name: str, version: str) -> list[Document]:
    """The version's review files (the candidate PDF first, then the technical file when the run has one), each
    with the hash its version records; empty when the run logged none."""
    import mlflow

    mv = registry.get_version(client, name, version)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder, file_name, tag in FILES:
            file = file_name(name, version)
            try:
                path = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=f"{folder}/{file}",
                                                           dst_path=tmp)
            except (MlflowException, OSError):
                continue  # not logged (a version from before the technical file), or the store is unreachable
            content = Path(path).read_bytes()
            out.append(Document(file, content, hashlib.sha256(content).hexdigest(), mv.tags.get(registry.TAG + tag)))
    return out


def mlflow_page(tracking_uri: str, name: str, version: str | None = None) -> str | None:
    """The MLflow UI's page of a model (or of one version) when the tracking store is an HTTP server; None for
    a database or file store (no UI to link)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/models/{name}" + (f"/versions/{version}" if version else "")
