"""A model version's technical file: its nine sections filled from what riskops holds, rendered at registration
and re-rendered on demand (`python -m ml document`), byte-identical for the same inputs.

The inputs (`Sources`) are read from the stores, the same way at registration and afterwards: the dataset's spec,
the candidate's summary (`candidates/<ds>/v=V/candidate.json`), the training run's parameters in MLflow, the
preprocess manifests of the data window, and this dataset's versions with their decisions and the champion
history *before the registration's timestamp* (so a later promotion does not change the file of an earlier
version). `build` turns them into the renderer's data and writes nothing.
"""

from ml.governance.technical_file.build import build, render
from ml.governance.technical_file.rerender import Rerendered, rerender
from ml.governance.technical_file.sources import (
    ARTIFACT_DIR,
    FILE_NAME,
    SHA_TAG,
    Sources,
    artifact_name,
    gather,
    key,
)

__all__ = ["ARTIFACT_DIR", "FILE_NAME", "SHA_TAG", "Rerendered", "Sources", "artifact_name", "build", "gather", "key",
           "render", "rerender"]
