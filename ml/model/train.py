"""Training: development sample as of a business date, time-based split, XGBoost (hist), threshold choice,
score bands.

Window: the most recent `window_days` business days (the dataset's calendar) whose labels have matured on the
as-of date; days that failed their quality gate and rows with an unknown outcome are left out and counted.
Split by business date: train | validation (early stopping, threshold) | out-of-time test (most recent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from ml import bins, layout, metrics
from ml.bins import reference_sample
from ml.boosting import xgb
from ml.config import TrainConfig
from ml.data.labels import matured_labels, outcome_counts
from ml.data.preprocess import PreprocessManifest, TopReason, describe_reasons, quality_passed, read_manifest
from ml.dates import last_business_days
from ml.errors import MissingDataError, RiskopsError
from ml.model import calibration
from ml.model.features import FeaturePipeline
from ml.model.riskmodel import RiskModel
from ml.rating import derive_bands
from ml.spec import DatasetSpec
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
    # the window's business days, rows per outcome, and what was left out: days without a manifest, days that
    # failed their quality gate, days whose rows were all quarantined, rows with an unknown outcome
    accounting: dict[str, Any] = field(default_factory=dict)

    def left_out(self) -> str:
        """What the window lost, for error messages ('' when nothing)."""
        a = self.accounting
        parts = [f"{len(a[k])} {what}" for k, what in (
            ("fully_quarantined_days", "days preprocessed but all their rows quarantined"),
            ("failed_quality_days", "days that failed their quality gate"),
            ("missing_days", "days not preprocessed")) if a.get(k)]
        if a.get("unknown_outcomes"):
            parts.append(f"{a['unknown_outcomes']} rows with an unknown outcome")
        return f" (left out: {'; '.join(parts)})" if parts else ""


def _quarantined_reasons(manifests: list[PreprocessManifest]) -> str:
    rows: dict[str, int] = {}
    examples: dict[str, str] = {}
    for m in manifests:
        for r in m.stats.top_reasons:
            rows[r.column] = rows.get(r.column, 0) + r.rows
            examples.setdefault(r.column, r.example)
    top = sorted(rows, key=lambda c: -rows[c])[:3]
    return describe_reasons([TopReason(column=c, rows=rows[c], example=examples[c]) for c in top])


def development_sample(storage: Storage, spec: DatasetSpec, as_of: dt.date, window_days: int) -> DevelopmentSample:
    """Curated rows of the window's business days joined with their matured labels; rows with an unknown
    outcome are left out and counted, a matured row without any label is an error."""
    last = as_of - dt.timedelta(days=spec.label.maturity_lag_days)
    days = last_business_days(spec, last, window_days)
    first = days[0] if days else last
    labels = matured_labels(storage, spec, as_of).set_index("id")["label"]
    frames, hashes = [], []
    missing, failed, quarantined = [], [], []
    for day in days:
        manifest = read_manifest(storage, spec.name, day)
        if manifest is None:
            missing.append(day.isoformat())
            continue
        if not quality_passed(manifest):  # a broken day never flows into a model
            failed.append(day.isoformat())
            continue
        if manifest.rows_clean == 0 and manifest.rows_quarantined:
            quarantined.append(manifest)
        frames.append(storage.read_parquet(manifest.outputs.curated))
        hashes.append(f"{day}:{manifest.input_sha256}")
    window = (f"'{spec.name}' between {first} and {last} (as of {as_of}, maturity lag "
              f"{spec.label.maturity_lag_days} days)")
    if not frames and failed:
        raise MissingDataError(f"no usable days for {window}: every preprocessed one failed its data-quality gate "
                               f"({', '.join(failed)}); re-deliver them (or change the spec's quality gates) and "
                               "preprocess them again")
    if not frames:
        raise MissingDataError(f"no curated days for {window}: preprocess them first")
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise MissingDataError(
            f"no clean rows for {window}: {len(frames)} business days were preprocessed but every one of their "
            f"rows was quarantined (top reasons: {_quarantined_reasons(quarantined)}); see "
            f"{layout.QUARANTINE}/{spec.name}")
    ids = frame[spec.id_column].astype(str)
    unlabeled = int((~ids.isin(labels.index)).sum())
    if unlabeled:
        # a matured row with no label is a feed problem, not something to train around silently
        raise MissingDataError(f"{unlabeled} of {len(frame)} rows in {first}..{last} have no matured label "
                               f"as of {as_of}; check {layout.labels_root(spec.name)}")
    frame["label"] = ids.map(labels).astype("Int8").to_numpy()
    counts = outcome_counts(frame["label"])
    frame = frame[frame["label"].notna()].reset_index(drop=True)
    accounting = {"business_days": len(days), "days_used": len(frames), "missing_days": missing,
                  "failed_quality_days": failed, "fully_quarantined_days": [m.date for m in quarantined],
                  "positive_outcomes": counts["positive"], "negative_outcomes": counts["negative"],
                  "unknown_outcomes": counts["unknown"]}
    if frame.empty:
        raise MissingDataError(f"every one of the {counts['unknown']} matured outcomes for {window} is unknown (not "
                               f"in label.positive {spec.label.positive} or label.negative {spec.label.negative})")
    frame["label"] = frame["label"].astype(int)
    digest = hashlib.sha256(";".join(hashes).encode()).hexdigest()
    return DevelopmentSample(frame=frame, window=(first, last), data_hash=digest, accounting=accounting)


def time_split(frame: pd.DataFrame, valid_days: int, test_days: int, left_out: str = "") -> dict[str, pd.DataFrame]:
    """Split by business date: the last `test_days` dates are out-of-time, the `valid_days` before validate."""
    dates = sorted(frame["business_date"].unique())
    if len(dates) < valid_days + test_days + 1:
        raise MissingDataError(f"{len(dates)} business days with rows in the window{left_out}; need at least "
                               f"{valid_days + test_days + 1} for train / validation / out-of-time test")
    test_from, valid_from = dates[-test_days], dates[-(test_days + valid_days)]
    d = frame["business_date"]
    return {"train": frame[d < valid_from], "valid": frame[(d >= valid_from) & (d < test_from)],
            "test": frame[d >= test_from]}


SAMPLES = {"train": "train", "valid": "validation", "test": "out-of-time test"}


def sample_counts(parts: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """Rows and outcomes of each sample (train, valid, test)."""
    counts = {}
    for key, part in parts.items():
        positives = int(part["label"].sum())
        counts[key] = {"rows": len(part), "positives": positives, "negatives": len(part) - positives}
    return counts


def _more_days(sample: str, config: TrainConfig) -> str:
    return {"train": f"widen the window (--window-days, now {config.window_days}) to leave more days to train on",
            "valid": f"give validation more days (--valid-days, now {config.valid_days})",
            "test": f"give the out-of-time test more days (--test-days, now {config.test_days})"}[sample]


def check_samples(parts: dict[str, pd.DataFrame], spec: DatasetSpec, config: TrainConfig, left_out: str = "") -> None:
    """Refuse, in one line, a split whose samples hold fewer rows or outcomes than the spec's `training`
    minimums: name the sample, its counts and what to change."""
    counts, minimums = sample_counts(parts), spec.training
    problems = []
    for key, c in counts.items():
        short = [f"training.{limit} {getattr(minimums, limit)}" for limit, n in (
            ("min_rows", c["rows"]), ("min_positives", c["positives"]), ("min_negatives", c["negatives"]))
            if n < getattr(minimums, limit)]
        if short:
            problems.append(f"the {SAMPLES[key]} sample has {c['rows']} rows, {c['positives']} positive and "
                            f"{c['negatives']} negative outcomes, below {' and '.join(short)}: "
                            f"{_more_days(key, config)}")
    if problems:
        shown = ", ".join(f"{SAMPLES[k]} {c['rows']} rows ({c['positives']} positive)" for k, c in counts.items())
        raise MissingDataError(f"too little data to train on: {'; '.join(problems)}, or lower the minimums in the "
                               f"spec's training section (samples: {shown}){left_out}")


def _listed(days: list[str], shown: int = 5) -> str:
    return ", ".join(days[:shown]) + (f" and {len(days) - shown} more" if len(days) > shown else "")


def window_gaps(accounting: dict[str, Any]) -> list[str]:
    """What the window lost, one sentence per kind of day left out: for the console, the report's first page and
    the approvers' mail (a window with half its days missing must not train silently)."""
    total = accounting.get("business_days", 0)
    gaps = []
    for key, one, many in (("missing_days", "was not preprocessed", "were not preprocessed"),
                           ("failed_quality_days", "failed its quality gate", "failed their quality gate"),
                           ("fully_quarantined_days", "had every row quarantined", "had every row quarantined")):
        days = list(accounting.get(key) or [])
        if days:
            what, missing = (one, "is") if len(days) == 1 else (many, "are")
            gaps.append(f"{len(days)} of the window's {total} business days {what} and {missing} missing from the "
                        f"development sample: {_listed(days)}")
    return gaps


def exposure_weights(exposure: pd.Series) -> np.ndarray:
    """Weights growing with exposure, mean 1: a misclassified large balance costs more than a small one."""
    e = pd.to_numeric(exposure, errors="coerce").clip(lower=0).to_numpy(dtype=float, na_value=np.nan)
    mean = np.nanmean(e) if np.isfinite(e).any() else 0.0
    if not mean:
        return np.ones(len(e))
    w = 0.1 + 0.9 * np.nan_to_num(e / mean, nan=1.0)
    weights: np.ndarray = w / w.mean()
    return weights


def _exposure_column(spec: DatasetSpec) -> str | None:
    return next((c.name for c in spec.columns if c.role == "exposure"), None)


def monotone_constraints(spec: DatasetSpec, order: tuple[str, ...]) -> dict[str, str]:
    """XGBoost's `monotone_constraints` for the spec's monotone features, in the model's input order (1: the PD
    rises with the feature, -1: it falls, 0: free); empty when the spec constrains nothing."""
    signs = {"increasing": 1, "decreasing": -1}
    wanted = spec.monotone
    if not wanted:
        return {}
    return {"monotone_constraints": "(" + ",".join(str(signs.get(wanted.get(name, ""), 0)) for name in order) + ")"}


def choose_threshold(spec: DatasetSpec, config: TrainConfig, valid: pd.DataFrame, p_valid: np.ndarray
                     ) -> tuple[float, str]:
    """The decision threshold of a model from its PDs on the validation sample, by the configured method, and
    why (the rationale the report and MLflow show)."""
    y_valid = valid["label"].to_numpy()
    if config.threshold_method == "cost":
        exposure_col = _exposure_column(spec)
        assert exposure_col is not None  # checked before training
        cost_fn = pd.to_numeric(valid[exposure_col], errors="coerce").fillna(0).clip(lower=0).to_numpy()
        return (metrics.threshold_by_cost(y_valid, p_valid, cost_fn, config.review_cost),
                f"minimises expected cost on the validation sample: a missed positive costs its {exposure_col}, "
                f"a flagged negative costs a review of {config.review_cost:g}")
    return (metrics.threshold_by_fbeta(y_valid, p_valid, config.beta),
            f"maximises F{config.beta:g} on the validation sample (recall weighted {config.beta:g}x precision: a "
            "missed default costs more than a declined good applicant)")


def finish(model: RiskModel, spec: DatasetSpec, parts: dict[str, pd.DataFrame], config: TrainConfig) -> str:
    """What every trained model gets from its PDs, whatever its algorithm: the threshold (returns its rationale),
    the monitoring reference (bins and sample of the development sample) and the score bands."""
    model.threshold, rationale = choose_threshold(spec, config, parts["valid"], model.predict_proba(parts["valid"]))
    dev = pd.concat([parts["train"], parts["valid"]])
    p_dev = model.predict_proba(dev)
    dev_inputs = model.pipeline.transform(dev)
    model.reference_bins = bins.fit_reference(dev_inputs, p_dev)
    model.reference_sample = reference_sample(dev_inputs, p_dev, seed=config.seed)
    # bands from the development sample (or the spec's fixed scale), stored with the model: every band is used
    model.bands = derive_bands(spec.policy.bands, p_dev).to_dict()
    return rationale


def fit(spec: DatasetSpec, parts: dict[str, pd.DataFrame], config: TrainConfig) -> tuple[RiskModel, dict[str, Any]]:
    """Fit pipeline + booster, choose the threshold on validation; returns the model and training facts."""
    pipeline = FeaturePipeline.fit(spec, parts["train"])
    exposure_col = _exposure_column(spec)
    if config.cost_sensitive and exposure_col is None:
        raise RiskopsError(f"cost-sensitive training needs an exposure column in the spec of '{spec.name}'")
    if config.threshold_method == "cost" and exposure_col is None:
        raise RiskopsError(f"threshold method 'cost' needs an exposure column in the spec of '{spec.name}'")
    weights = exposure_weights(parts["train"][exposure_col]) if config.cost_sensitive else None
    dtrain = xgb.DMatrix(pipeline.transform(parts["train"]), label=parts["train"]["label"], weight=weights,
                         enable_categorical=True)
    dvalid = xgb.DMatrix(pipeline.transform(parts["valid"]), label=parts["valid"]["label"], enable_categorical=True)
    params = {**DEFAULT_PARAMS, "seed": config.seed, **monotone_constraints(spec, pipeline.order), **config.params}
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
    rationale = finish(model, spec, parts, config)
    gain = booster.get_score(importance_type="total_gain")
    if not gain:
        c = sample_counts({"train": parts["train"]})["train"]
        raise MissingDataError(f"the model learned nothing: no tree split the train sample ({c['rows']} rows, "
                               f"{c['positives']} positive), so every row would get the same PD; train on more "
                               f"days (--window-days, now {config.window_days}) or raise the spec's training.min_rows")
    facts = {
        "best_iteration": int(booster.num_boosted_rounds()),
        "threshold_rationale": rationale,
        # total_gain is one number per feature (xgboost types it as a number or a list)
        "feature_importance": sorted(((k, float(cast(float, v))) for k, v in gain.items()), key=lambda kv: -kv[1]),
        "params": params,
        "config": asdict(config),
    }
    model.meta = {"algorithm": "xgboost", "threshold_method": config.threshold_method, "beta": config.beta,
                  "calibration": config.calibration_method or "none", "features": list(pipeline.order),
                  "dataset": spec.name}
    return model, facts
