"""The scorecard beside the XGBoost model: both trained on the same development sample and judged on the same
out-of-time test (AUC with its interval, KS, calibration by band, DeLong's paired AUC difference), whichever of
the two is the candidate (`TrainConfig.algorithm`); and the scorecard as a candidate model (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.config import TrainConfig
from ml.model import scorecard
from ml.model.evaluate import Evaluation, evaluate
from ml.model.features import FeaturePipeline
from ml.model.riskmodel import RiskModel
from ml.model.scorecard_booster import to_booster
from ml.model.train import choose_threshold, finish
from ml.ranking import AucDifference, paired_auc_difference
from ml.spec import DatasetSpec


def fit_scorecard(spec: DatasetSpec, parts: dict[str, pd.DataFrame], pipeline: FeaturePipeline) -> scorecard.Scorecard:
    """The scorecard on the train sample's model input (the XGBoost model's pipeline), its bins held to the
    spec's monotone directions."""
    return scorecard.fit(pipeline.transform(parts["train"]), parts["train"]["label"].to_numpy(), spec.monotone)


def scorecard_model(spec: DatasetSpec, parts: dict[str, pd.DataFrame], config: TrainConfig,
                    pipeline: FeaturePipeline, card: scorecard.Scorecard) -> tuple[RiskModel, dict[str, Any]]:
    """The scorecard as a candidate: a RiskModel whose booster is the scorecard (`to_booster`), with the threshold,
    reference and bands every model gets (`ml.model.train.finish`); and its training facts."""
    model = RiskModel(pipeline=pipeline, booster=to_booster(card, pipeline.order), threshold=0.5)
    rationale = finish(model, spec, parts, config)
    model.meta = {"algorithm": "scorecard", "threshold_method": config.threshold_method, "beta": config.beta,
                  "calibration": "none", "features": list(pipeline.order), "dataset": spec.name,
                  "scorecard": card.to_dict()}
    facts = {
        "best_iteration": len(card.bins),
        "threshold_rationale": rationale,
        # a scorecard's feature importance: its information value (the booster's total gain, by construction)
        "feature_importance": sorted(((b.feature, b.information_value) for b in card.bins), key=lambda kv: -kv[1]),
        "params": {"max_bins": scorecard.MAX_BINS, "min_bin_share": scorecard.MIN_BIN_SHARE, "C": 1.0,
                   "monotone": dict(spec.monotone)},
        "config": asdict(config),
    }
    return model, facts


@dataclass(frozen=True)
class Review:
    """The two models on the out-of-time test; `candidate` says which one is registered."""

    candidate: str  # "xgboost" | "scorecard"
    xgboost: Evaluation
    scorecard: Evaluation
    gain: AucDifference  # XGBoost's AUC - the scorecard's, on the same rows (DeLong, paired)
    points: list[dict[str, Any]]  # the scorecard's points table (scorecard.Scorecard.points)
    information_value: dict[str, float]  # per feature

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the report, candidate.json)."""
        low, high = self.gain.interval()
        return {"candidate": self.candidate, "xgboost": self.xgboost.metrics, "scorecard": self.scorecard.metrics,
                "xgboost_calibration": self.xgboost.calibration, "scorecard_calibration": self.scorecard.calibration,
                "gain": {"difference": self.gain.difference, "se": self.gain.se, "low": low, "high": high},
                "points": self.points, "information_value": self.information_value}


def review(spec: DatasetSpec, parts: dict[str, pd.DataFrame], config: TrainConfig, card: scorecard.Scorecard,
           xgboost: RiskModel, candidate: str) -> Review:
    """Evaluate the scorecard (its threshold chosen as the candidate's is) and the XGBoost model on the test."""
    test, y = parts["test"], parts["test"]["label"].to_numpy()
    pipeline = xgboost.pipeline
    threshold, _ = choose_threshold(spec, config, parts["valid"],
                                    card.predict_proba(pipeline.transform(parts["valid"])))
    p_card = card.predict_proba(pipeline.transform(test))
    p_xgb = xgboost.predict_proba(test)
    return Review(candidate=candidate, xgboost=evaluate(y, p_xgb, xgboost.threshold, config.beta),
                  scorecard=evaluate(y, p_card, threshold, config.beta),
                  gain=paired_auc_difference(y, np.asarray(p_card), np.asarray(p_xgb)),
                  points=card.points(spec.policy),
                  information_value={b.feature: b.information_value for b in card.bins})
