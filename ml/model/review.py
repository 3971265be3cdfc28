"""What an approver reviews of a version: the files logged under `report/` with its MLflow run (the candidate
PDF, and the technical file when the run has one), each with its SHA-256 and the one recorded on the version.

The candidate PDF's hash is recorded at registration (tag `riskops.report_sha256`), and an approval is bound to
it; a file whose bytes do not match is shown as such, never as the report that was approved.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.model import registry

FOLDER = "report"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]{0,199}")


@dataclass(frozen=True)
class Document:
    """One file of a version's review, as stored."""

    name: str  # file name inside the run's report/ folder
    content: bytes
    sha256: str  # of the bytes served
    recorded_sha256: str | None  # what the version records for it (None: nothing recorded)

    @property
    def verified(self) -> bool:
        """True when the version records a hash for this file and the bytes match it."""
        return self.recorded_sha256 is not None and self.recorded_sha256 == self.sha256


def report_name(name: str, version: str) -> str:
    """The candidate PDF's file name in the run (as retraining logs it)."""
    return f"{name}-v{version}.pdf"


def documents(client: MlflowClient, name: str, version: str) -> list[Document]:
    """The version's review files, the candidate PDF first; empty when its run logged none."""
    import mlflow

    mv = registry.get_version(client, name, version)
    # only the candidate PDF's hash is recorded on the version; any other file is shown as unrecorded
    recorded = {report_name(name, version): mv.tags.get(registry.TAG + "report_sha256")}
    try:
        listed = [Path(f.path).name for f in client.list_artifacts(mv.run_id, FOLDER) if not f.is_dir]
    except (MlflowException, OSError):
        return []
    names = sorted((n for n in listed if n.endswith(".pdf") and SAFE_NAME.fullmatch(n)),
                   key=lambda n: (n != report_name(name, version), n))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            try:
                path = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=f"{FOLDER}/{n}",
                                                           dst_path=tmp)
            except (MlflowException, OSError):
                continue
            content = Path(path).read_bytes()
            out.append(Document(n, content, hashlib.sha256(content).hexdigest(), recorded.get(n)))
    return out


def mlflow_page(tracking_uri: str, name: str, version: str | None = None) -> str | None:
    """The MLflow UI's page of a model (or of one version) when the tracking store is an HTTP server; None for
    a database or file store (no UI to link)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/models/{name}" + (f"/versions/{version}" if version else "")
