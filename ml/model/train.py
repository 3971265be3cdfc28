"""Training: development sample as of a business date, time-based split, XGBoost (hist), threshold choice.

Window: the most recent `window_days` business days whose labels have matured on the as-of date.
Split by business date: train | validation (early stopping, threshold) | out-of-time test (most recent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from ml import bins, layout, metrics
from ml.config import TrainConfig
from ml.data.labels import matured_labels
from ml.data.preprocess import read_manifest
from ml.data.spec import DatasetSpec
from ml.errors import MissingDataError
from ml.model import calibration
from ml.model.features import FeaturePipeline
from ml.model.riskmodel import RiskModel
from ml.monitor.stability import reference_sample
from ml.storage import Storage

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 10,
    "lambda": 5.0,
    "max_cat_to_onehot": 1,
    "nthread": 2,
}


@dataclass
class DevelopmentSample:
    frame: pd.DataFrame  # curated rows + `label`
    window: tuple[dt.date, dt.date]
    data_hash: str  # SHA-256 over the input hashes of every day in the window


def development_sample(storage: Storage, spec: DatasetSpec, as_of: dt.date, window_days: int) -> DevelopmentSample:
    """Curated rows of the window joined with their matured labels."""
    last = as_of - dt.timedelta(days=spec.label.maturity_lag_days)
    first = last - dt.timedelta(days=window_days - 1)
    labels = matured_labels(storage, spec, as_of).set_index("id")["label"]
    frames, hashes = [], []
    day = first
    while day <= last:
        manifest = read_manifest(storage, spec.name, day)
        if manifest is not None:
            curated = storage.read_parquet(manifest["outputs"]["curated"])
            frames.append(curated)
            hashes.append(f"{day}:{manifest['input_sha256']}")
        day += dt.timedelta(days=1)
    if not frames:
        raise MissingDataError(f"no curated days for '{spec.name}' between {first} and {last} "
                               f"(as of {as_of}, maturity lag {spec.label.maturity_lag_days} days): preprocess them first")
    frame = pd.concat(frames, ignore_index=True)
    frame["label"] = frame[spec.id_column].astype(str).map(labels)
    unlabeled = int(frame["label"].isna().sum())
    if unlabeled:
        # a matured row with no label is a feed problem, not something to train around silently
        raise MissingDataError(f"{unlabeled} of {len(frame)} rows in {first}..{last} have no matured label "
                               f"as of {as_of}; check {layout.labels_root(spec.name)}")
    frame["label"] = frame["label"].astype(int)
    digest = hashlib.sha256(";".join(hashes).encode()).hexdigest()
    return DevelopmentSample(frame=frame, window=(first, last), data_hash=digest)


def time_split(frame: pd.DataFrame, valid_days: int, test_days: int) -> dict[str, pd.DataFrame]:
    """Split by business date: the last `test_days` dates are out-of-time, the `valid_days` before validate."""
    dates = sorted(frame["business_date"].unique())
    if len(dates) < valid_days + test_days + 1:
        raise MissingDataError(f"{len(dates)} business days in the window; need at least "
                               f"{valid_days + test_days + 1} for train / validation / out-of-time test")
    test_from, valid_from = dates[-test_days], dates[-(test_days + valid_days)]
    d = frame["business_date"]
    return {"train": frame[d < valid_from], "valid": frame[(d >= valid_from) & (d < test_from)],
            "test": frame[d >= test_from]}


def exposure_weights(exposure: pd.Series) -> np.ndarray:
    """Weights growing with exposure, mean 1: a misclassified large balance costs more than a small one."""
    e = pd.to_numeric(exposure, errors="coerce").clip(lower=0).to_numpy(dtype=float, na_value=np.nan)
    mean = np.nanmean(e) if np.isfinite(e).any() else 0.0
    if not mean:
        return np.ones(len(e))
    w = 0.1 + 0.9 * np.nan_to_num(e / mean, nan=1.0)
    return w / w.mean()


def _exposure_column(spec: DatasetSpec) -> str | None:
    return next((c.name for c in spec.columns if c.role == "exposure"), None)


def fit(spec: DatasetSpec, parts: dict[str, pd.DataFrame], config: TrainConfig) -> tuple[RiskModel, dict[str, Any]]:
    """Fit pipeline + booster, choose the threshold on validation; returns the model and training facts."""
    pipeline = FeaturePipeline.fit(spec, parts["train"])
    exposure_col = _exposure_column(spec)
    if config.cost_sensitive and exposure_col is None:
        raise ValueError(f"cost_sensitive training needs an exposure column in the spec of '{spec.name}'")
    weights = exposure_weights(parts["train"][exposure_col]) if config.cost_sensitive else None
    dtrain = xgb.DMatrix(pipeline.transform(parts["train"]), label=parts["train"]["label"], weight=weights,
                         enable_categorical=True)
    dvalid = xgb.DMatrix(pipeline.transform(parts["valid"]), label=parts["valid"]["label"], enable_categorical=True)
    params = {**DEFAULT_PARAMS, "seed": config.seed, **config.params}
    booster = xgb.train(params, dtrain, num_boost_round=config.num_boost_round, evals=[(dvalid, "valid")],
                        early_stopping_rounds=config.early_stopping_rounds, verbose_eval=False)
    # keep exactly the trees up to the best iteration, so every later predict uses the early-stopped model
    booster = booster[: booster.best_iteration + 1]
    model = RiskModel(pipeline=pipeline, booster=booster, threshold=0.5)
    y_valid = parts["valid"]["label"].to_numpy()
    if config.calibration_method is not None:
        # weighted training moves the PDs away from outcome rates: map them back on the validation sample,
        # before the threshold and the reference bins, which are on the PDs scoring will produce
        model.calibration = calibration.fit(model.raw_pd(pipeline.transform(parts["valid"])), y_valid,
                                            config.calibration_method)
    p_valid = model.predict_proba(parts["valid"])
    if config.threshold_method == "cost":
        if exposure_col is None:
            raise ValueError(f"threshold_method 'cost' needs an exposure column in the spec of '{spec.name}'")
        cost_fn = pd.to_numeric(parts["valid"][exposure_col], errors="coerce").fillna(0).clip(lower=0).to_numpy()
        model.threshold = metrics.threshold_by_cost(y_valid, p_valid, cost_fn, config.review_cost)
        rationale = (f"minimises expected cost on the validation sample: a missed positive costs its "
                     f"{exposure_col}, a flagged negative costs a review of {config.review_cost:g}")
    else:
        model.threshold = metrics.threshold_by_fbeta(y_valid, p_valid, config.beta)
        rationale = (f"maximises F{config.beta:g} on the validation sample (recall weighted {config.beta:g}x "
                     f"precision: a missed default costs more than a declined good applicant)")
    dev = pd.concat([parts["train"], parts["valid"]])
    dev_inputs, dev_scores = pipeline.transform(dev), model.predict_proba(dev)
    model.reference_bins = bins.fit_reference(dev_inputs, dev_scores)
    model.reference_sample = reference_sample(dev_inputs, dev_scores, seed=config.seed)
    gain = booster.get_score(importance_type="total_gain")
    facts = {
        "best_iteration": int(booster.num_boosted_rounds()),
        "threshold_rationale": rationale,
        "feature_importance": sorted(((k, float(v)) for k, v in gain.items()), key=lambda kv: -kv[1]),
        "params": params,
        "config": asdict(config),
    }
    model.meta = {"threshold_method": config.threshold_method, "beta": config.beta,
                  "calibration": config.calibration_method or "none", "features": list(pipeline.order),
                  "dataset": spec.name}
    return model, facts
