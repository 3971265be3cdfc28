"""The retraining step on a real MLflow store: candidate, report, registry, champion comparison, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ml import layout
from ml.config import TrainConfig
from ml.errors import RiskopsError
from ml.governance import registry
from ml.model import calibration
from ml.model.train import development_sample, time_split
from ml.retraining.retrain import retrain
from ml.storage import Storage
from tests.helpers import approve, land_and_preprocess

START = dt.date(2026, 9, 1)
DAYS = 16
AS_OF = START + dt.timedelta(days=DAYS - 1 + 45)  # last day + the cards' maturity lag
CONFIG = TrainConfig(window_days=DAYS, valid_days=3, test_days=4, num_boost_round=300, early_stopping_rounds=30)


@pytest.fixture(scope="module")
def cards_storage(tmp_path_factory, cards_spec) -> Storage:
    storage = Storage(str(tmp_path_factory.mktemp("cards") / "data"))
    land_and_preprocess(storage, cards_spec, START, DAYS)
    return storage


def test_development_sample_uses_only_matured_labels(cards_storage, cards_spec):
    sample = development_sample(cards_storage, cards_spec, AS_OF, DAYS)
    assert sample.window == (START, START + dt.timedelta(days=DAYS - 1))
    assert sample.frame["label"].isin([0, 1]).all() and 0.01 < sample.frame["label"].mean() < 0.06
    # one day earlier, the last day's labels have not matured: it leaves the window
    earlier = development_sample(cards_storage, cards_spec, AS_OF - dt.timedelta(days=1), DAYS)
    assert earlier.window[1] == START + dt.timedelta(days=DAYS - 2)
    assert earlier.data_hash != sample.data_hash


def test_time_split_holds_out_the_most_recent_days(cards_storage, cards_spec):
    frame = development_sample(cards_storage, cards_spec, AS_OF, DAYS).frame
    parts = time_split(frame, valid_days=3, test_days=4)
    assert parts["train"]["business_date"].max() < parts["valid"]["business_date"].min()
    assert parts["valid"]["business_date"].max() < parts["test"]["business_date"].min()
    assert parts["test"]["business_date"].nunique() == 4
    assert sum(len(p) for p in parts.values()) == len(frame)


def test_first_candidate_then_champion_comparison(cards_storage, cards_spec, mlflow_store, tmp_path):
    client = MlflowClient()
    name = registry.model_name("card_transactions")
    first = retrain(cards_storage, cards_spec, AS_OF, CONFIG, artifact_root=(tmp_path / "art").as_uri())
    assert first.version == "1" and first.verdict == "recommended" and first.champion_metrics is None
    assert first.metrics.auc > 0.75  # the synthetic fraud signal is learnable

    v1 = client.get_model_version(name, "1")
    assert v1.current_stage == "Staging"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"
    pdf = cards_storage.read_bytes(first.report_key)
    assert pdf.startswith(b"%PDF") and v1.tags["riskops.report_sha256"] == hashlib.sha256(pdf).hexdigest()
    run = client.get_run(first.run_id)
    assert run.data.tags["data_hash"] == first.data_hash
    assert run.data.metrics["test.auc"] == pytest.approx(first.metrics.auc)
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"reference_bins.json", "data_window.json", "report"} <= artifacts
    bins = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=first.run_id,
                                                                artifact_path="reference_bins.json")).read_text())
    assert len(bins["score"]["proportions"]) >= 5 and "amount" in bins["features"]

    approve(client, name, "1", "Ada")
    second = retrain(cards_storage, cards_spec, AS_OF, CONFIG, artifact_root=(tmp_path / "art").as_uri())
    assert second.version == "2" and second.champion_version == "1"
    # same data and seed: the candidate equals the champion, so it does not beat it by the margin
    assert second.champion_metrics.auc == pytest.approx(second.metrics.auc)
    assert second.verdict == "not recommended"

    model = registry.load_model(client, name, "2")
    parts = time_split(development_sample(cards_storage, cards_spec, AS_OF, DAYS).frame, 3, 4)
    assert model.predict_proba(parts["test"]).shape == (len(parts["test"]),)
    # the reference sample for KS travels with the model: numeric inputs and score of the development rows
    sample = model.reference_sample
    assert len(sample) == len(parts["train"]) + len(parts["valid"])
    assert set(sample.columns) == {*model.pipeline.numeric, "__score__"} and "amount" in sample.columns

    # the swap matrix puts each model at its own production threshold: a challenger deciding at 2 (above
    # every PD) approves every row the champion (at its threshold) declines, and declines none
    from ml.retraining.retrain import compare_with_champion

    test, dev = parts["test"], pd.concat([parts["train"], parts["valid"]])
    p = model.predict_proba(test)
    swap = compare_with_champion(model, "2", p, 2.0, test, dev, CONFIG.beta, cards_spec.monitoring).swap
    assert swap.approve_decline.n == swap.decline_decline.n == 0
    assert swap.decline_approve.n == int((p >= model.threshold).sum()) > 0

    # and is covered by the model's hash: a sample changed in the artifact store is refused
    model_id = client.get_model_version(name, "2").source.removeprefix("models:/")
    (stored,) = (tmp_path / "art").rglob(f"{model_id}/**/model_dir/reference_sample.parquet")
    sample.assign(amount=sample["amount"] * 2).to_parquet(stored, index=False)
    with pytest.raises(RiskopsError, match="do not match the SHA-256"):
        registry.load_model(client, name, "2")


def test_missing_curated_days_is_a_clear_error(cards_spec, mlflow_store, tmp_path):
    from ml.errors import MissingDataError

    with pytest.raises(MissingDataError, match="preprocess them first"):
        retrain(Storage(str(tmp_path / "empty")), cards_spec, AS_OF, CONFIG, (tmp_path / "art").as_uri())


def test_cost_sensitive_training_and_cost_threshold(cards_storage, cards_spec):
    from ml.model.train import fit

    parts = time_split(development_sample(cards_storage, cards_spec, AS_OF, DAYS).frame, 3, 4)
    base, _ = fit(cards_spec, parts, CONFIG)
    costed, facts = fit(cards_spec, parts, TrainConfig(**{**CONFIG.__dict__, "cost_sensitive": True,
                                                           "threshold_method": "cost", "review_cost": 5.0}))
    assert costed.meta["threshold_method"] == "cost" and "amount" in facts["threshold_rationale"]
    assert costed.threshold != base.threshold
    # weighted training gets a Platt map fitted on validation ("auto"); its PDs there match the default rate
    assert base.calibration is None and base.meta["calibration"] == "none"
    assert costed.calibration["method"] == "platt" and costed.meta["calibration"] == "platt"
    valid = parts["valid"]
    assert costed.predict_proba(valid).mean() == pytest.approx(valid["label"].mean(), abs=1e-5)
    features = costed.pipeline.transform(valid)
    np.testing.assert_allclose(costed.pd(features), calibration.apply(costed.calibration, costed.raw_pd(features)))


def test_calibration_map_is_stored_hashed_and_loaded(cards_storage, cards_spec, tmp_path):
    from ml.model.riskmodel import RiskModel, folder_sha256
    from ml.model.train import fit
    from ml.scoring.score import PinnedModel, score_frame

    parts = time_split(development_sample(cards_storage, cards_spec, AS_OF, DAYS).frame, 3, 4)
    plain, _ = fit(cards_spec, parts, CONFIG)
    isotonic, _ = fit(cards_spec, parts, TrainConfig(**{**CONFIG.__dict__, "calibration": "isotonic"}))
    assert not (plain.save(tmp_path / "plain") / "calibration.json").exists()
    folder = isotonic.save(tmp_path / "iso")
    loaded = RiskModel.load(folder)
    assert loaded.calibration == isotonic.calibration
    np.testing.assert_array_equal(loaded.predict_proba(parts["test"]), isotonic.predict_proba(parts["test"]))
    digest = folder_sha256(folder)
    (folder / "calibration.json").write_text('{"method": "platt", "slope": 1.0, "intercept": 3.0}')
    assert folder_sha256(folder) != digest  # an edited map no longer matches the registered hash
    (folder / "calibration.json").unlink()
    assert folder_sha256(folder) != digest  # nor does a removed one
    # scoring's PD goes through the map
    pinned = PinnedModel("riskops-card_transactions", "1", "run")
    pinned.__dict__["model"] = isotonic  # what its cached loading would return
    scored = score_frame(parts["test"].drop(columns=["label"]), cards_spec, pinned)
    np.testing.assert_array_equal(scored["pd"], isotonic.predict_proba(parts["test"]))
    assert not np.allclose(scored["pd"], isotonic.raw_pd(isotonic.pipeline.transform(parts["test"])))


def test_calibrated_candidate_report_and_development_facts(cards_storage, cards_spec, mlflow_store, tmp_path):
    import io
    import shutil

    from pypdf import PdfReader

    # the module's data without the candidates other tests registered (versions restart in this MLflow store)
    storage = Storage(str(shutil.copytree(cards_storage.root, tmp_path / "data",
                                          ignore=shutil.ignore_patterns("candidates", "runs"))))
    config = TrainConfig(**{**CONFIG.__dict__, "cost_sensitive": True})
    summary = retrain(storage, cards_spec, AS_OF, config, artifact_root=(tmp_path / "art").as_uri())
    pdf = PdfReader(io.BytesIO(storage.read_bytes(summary.report_key)))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Before the calibration map (platt, fitted on the validation sample)" in text
    model = registry.load_model(MlflowClient(), registry.model_name(cards_spec.name), summary.version)
    assert model.calibration["method"] == "platt"
    development = model.meta["development"]
    assert development["auc"] == pytest.approx(summary.metrics.auc)
    assert sum(development["band_rows"].values()) == summary.metrics.n


def test_a_corrupted_curated_file_is_a_clear_error(cards_storage, cards_spec, tmp_path):
    other = Storage(str(tmp_path / "data"))
    for day in [START + dt.timedelta(days=i) for i in range(DAYS)]:
        for key in (layout.curated(cards_spec.name, day), layout.preprocess_manifest(cards_spec.name, day)):
            other.write_bytes(key, cards_storage.read_bytes(key))
    broken = layout.curated(cards_spec.name, START + dt.timedelta(days=3))
    other.write_bytes(broken, b"PAR1 not really parquet")
    with pytest.raises(RiskopsError, match=f"{broken} is not a readable parquet file"):
        development_sample(other, cards_spec, AS_OF, DAYS)
