"""The scorecard as the candidate (`--algorithm scorecard`) on Give Me Some Credit: registered through the same
path as an XGBoost candidate, loaded from MLflow and scored by the same policy (PDs, scores, bands, decisions and
reasons) as the scorecard computes them; the candidate PDF shows both models and the spec's monotone features;
a dataset with category features is refused in one line, before anything is registered."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from pypdf import PdfReader

from ml.config import TrainConfig
from ml.errors import RiskopsError
from ml.governance import registry
from ml.model.scorecard import Scorecard
from ml.model.train import development_sample
from ml.rating import to_score
from ml.retraining.retrain import build_candidate, retrain
from ml.scoring.score import PinnedModel, contributions, score_frame
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import land_and_preprocess

REPO = Path(__file__).resolve().parents[2]
GMSC = get_spec(REPO / "datasets", "give_me_some_credit")
START = dt.date(2026, 9, 1)
DAYS = 16
AS_OF = START + dt.timedelta(days=DAYS - 1 + GMSC.label.maturity_lag_days)
CONFIG = TrainConfig(window_days=DAYS, valid_days=3, test_days=4, num_boost_round=200, early_stopping_rounds=20,
                     algorithm="scorecard")


@pytest.fixture(scope="module")
def gmsc_storage(tmp_path_factory) -> Storage:
    storage = Storage(str(tmp_path_factory.mktemp("gmsc") / "data"))
    land_and_preprocess(storage, GMSC, START, DAYS)
    return storage


def test_the_scorecard_is_registered_and_scored_by_the_same_policy(gmsc_storage, mlflow_store, tmp_path):
    summary = retrain(gmsc_storage, GMSC, AS_OF, CONFIG, artifact_root=(tmp_path / "art").as_uri())
    assert summary.algorithm == "scorecard" and summary.scorecard.candidate == "scorecard"
    assert summary.metrics.auc == pytest.approx(summary.scorecard.scorecard.auc, abs=1e-6)
    name = registry.model_name(GMSC.name)
    assert registry.tags(MlflowClient(), name, summary.version)["status"] == "candidate"
    model = registry.load_model(MlflowClient(), name, summary.version)
    card = Scorecard.from_dict(model.meta["scorecard"])
    assert model.meta["algorithm"] == "scorecard"

    rows = development_sample(gmsc_storage, GMSC, AS_OF, DAYS).frame.tail(3000)
    features = model.pipeline.transform(rows)
    pinned = PinnedModel(name, summary.version, "run")
    pinned.__dict__["model"] = model  # what its cached loading returns
    scored = score_frame(rows.drop(columns=["label"]), GMSC, pinned)
    np.testing.assert_allclose(scored["pd"], card.predict_proba(features), rtol=1e-5)
    np.testing.assert_array_equal(scored["score"], to_score(scored["pd"].to_numpy(), GMSC.policy))
    assert set(scored["decision"].dropna()) <= {"approve", "review", "decline"}
    # reasons are ranked on each feature's points against its average: its log-odds contribution
    contrib = contributions(model, features)
    for j, bins in enumerate(card.bins):
        own = card.coefficients[j] * bins.transform(features[bins.feature])
        np.testing.assert_allclose(contrib[:, j] - contrib[:, j].mean(), own - own.mean(), atol=1e-4)
    assert scored["reason_1"].notna().any()
    # MLflow users' pyfunc flavour loads the same folder, so it gives the same PDs (its signature declares the
    # integer columns as doubles, as registry.log_model logs them)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{summary.version}")
    example = rows.drop(columns=["label"]).head(50)
    example = example.astype({c: "float64" for c in example.columns if str(example[c].dtype) in ("Int64", "int64")})
    np.testing.assert_allclose(pyfunc.predict(example)["pd"], scored["pd"][:50], rtol=1e-6)

    pdf = PdfReader(io.BytesIO(gmsc_storage.read_bytes(summary.report_key)))
    page = " ".join(pdf.pages[5].extract_text().split())
    assert "Scorecard (candidate)" in page and "XGBoost" in page
    assert "The direction holds for every constrained feature." in page
    assert [c.feature for c in summary.monotone] == list(GMSC.monotone)


def test_the_xgboost_candidate_honours_the_gmsc_constraints_and_shows_the_scorecard(gmsc_storage):
    sample = development_sample(gmsc_storage, GMSC, AS_OF, DAYS)
    candidate = build_candidate(GMSC, AS_OF, sample, TrainConfig(**{**CONFIG.__dict__, "algorithm": "xgboost"}),
                                None)
    assert candidate.facts["params"]["monotone_constraints"].count("1") == 4
    assert [c.holds for c in candidate.monotone] == [True] * 4
    review = candidate.scorecard
    assert review is not None and review.candidate == "xgboost"
    assert review.xgboost.metrics["auc"] == candidate.evaluation.metrics["auc"]
    assert 0.6 < review.scorecard.metrics["auc"] < 0.95
    points = review.points
    assert {r["feature"] for r in points} == set(candidate.model.pipeline.order)


def test_a_scorecard_candidate_with_category_features_is_refused_in_one_line(tmp_path, cards_spec):
    storage = Storage(str(tmp_path / "data"))
    land_and_preprocess(storage, cards_spec, START, 12)
    sample = development_sample(storage, cards_spec, START + dt.timedelta(days=11 + 45), 12)
    with pytest.raises(RiskopsError, match="a scorecard candidate takes number features only, and the model takes "
                                           "the category features merchant_category, channel, country"):
        build_candidate(cards_spec, START, sample, CONFIG, None)
