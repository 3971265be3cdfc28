"""A trained model as one object: feature pipeline + XGBoost booster + decision threshold + score bands +
monitoring reference (bins, and a sample of the development rows), and a calibration map when its raw PDs
needed one.

Saved as a folder: booster.ubj (XGBoost's own format), pipeline.json, model.json (threshold, score bands and
metadata), reference_bins.json, calibration.json if calibrated, and reference_sample.parquet (numeric inputs
and score of up to 100 k development rows, for KS; models trained before it existed have none and still
load). The MLflow pyfunc wrapper loads the same folder, so every consumer scores alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas import DataFrame  # in the class body `pd` is the method RiskModel.pd

from ml.boosting import xgb
from ml.model import calibration
from ml.model.features import FeaturePipeline

FILES = ("booster.ubj", "pipeline.json", "model.json", "reference_bins.json")
SAMPLE_FILE = "reference_sample.parquet"
OPTIONAL_FILES = ("calibration.json", SAMPLE_FILE)  # absent from models that do not need them (and older ones)


def folder_sha256(folder: Path) -> str:
    """One SHA-256 over the model's files (names and bytes), recorded at registration, checked at loading.
    Optional files count when present, so adding or removing one changes the hash."""
    digest = hashlib.sha256()
    for name in FILES + tuple(n for n in OPTIONAL_FILES if (folder / n).exists()):
        digest.update(name.encode() + b"\0" + hashlib.sha256((folder / name).read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class RiskModel:
    pipeline: FeaturePipeline
    booster: xgb.Booster
    threshold: float
    reference_bins: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None  # ml.model.calibration map of the raw PDs
    bands: dict[str, Any] | None = None  # ml.rating.BandScale, derived at training (None: older models)
    reference_sample: pd.DataFrame | None = None  # ml.bins.reference_sample

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (default / fraud) for curated rows."""
        return self.pd(self.pipeline.transform(frame))

    def pd(self, features: pd.DataFrame) -> np.ndarray:
        """The PD of model input built by the pipeline: the booster's, through the calibration map if any."""
        raw = self.raw_pd(features)
        return raw if self.calibration is None else calibration.apply(self.calibration, raw)

    def raw_pd(self, features: DataFrame) -> np.ndarray:
        """The booster's own probability, before any calibration map."""
        return np.asarray(self.booster.inplace_predict(features), dtype=np.float64)

    def contributions(self, features: DataFrame) -> np.ndarray:
        """(rows x features) contribution of each feature, in the pipeline's order, to each row's log-odds:
        XGBoost's approximate contributions (`approx_contribs=True`, Saabas' method: the change in the tree's
        expected value at every split on the row's path, credited to the split feature), the bias dropped. A
        few plain predictions' cost, where exact TreeSHAP costs ~1 k rows/s. Reasons are ranked on these
        (`ml.reasons.rank`)."""
        if len(features) == 0:
            return np.empty((0, len(self.pipeline.order)), dtype=np.float32)
        return self.booster.predict(xgb.DMatrix(features, enable_categorical=True), pred_contribs=True,
                                    approx_contribs=True)[:, :-1]  # last column: bias

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "booster.ubj"))
        (folder / "pipeline.json").write_text(json.dumps(self.pipeline.to_dict(), indent=2))
        bands = {"bands": self.bands} if self.bands is not None else {}
        (folder / "model.json").write_text(json.dumps({"threshold": self.threshold, **bands, **self.meta}, indent=2))
        (folder / "reference_bins.json").write_text(json.dumps(self.reference_bins))
        if self.calibration is not None:
            (folder / "calibration.json").write_text(json.dumps(self.calibration))
        if self.reference_sample is not None:
            self.reference_sample.to_parquet(folder / SAMPLE_FILE, index=False, compression="zstd")
        return folder

    @classmethod
    def load(cls, folder: Path) -> "RiskModel":
        booster = xgb.Booster()
        booster.load_model(str(folder / "booster.ubj"))
        meta = json.loads((folder / "model.json").read_text())
        calibrated, sample = folder / "calibration.json", folder / SAMPLE_FILE
        return cls(pipeline=FeaturePipeline.from_dict(json.loads((folder / "pipeline.json").read_text())),
                   booster=booster, threshold=float(meta.pop("threshold")), bands=meta.pop("bands", None),
                   reference_bins=json.loads((folder / "reference_bins.json").read_text()), meta=meta,
                   calibration=calibration.check(json.loads(calibrated.read_text())) if calibrated.exists() else None,
                   reference_sample=pd.read_parquet(sample) if sample.exists() else None)
