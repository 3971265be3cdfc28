"""Registry semantics on a real MLflow store: stage and alias in step, promotions, rejections, direct edits."""

from __future__ import annotations

import warnings

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.errors import RiskopsError
from ml.model import registry
from ml.model.features import FeaturePipeline
from ml.model.riskmodel import RiskModel

NAME = "riskops-test"


def _candidate(client: MlflowClient) -> str:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(frame, label=(frame.x > 0).astype(int)), 3)
    model = RiskModel(FeaturePipeline(numeric=("x",), categorical={}, order=("x",)), booster, 0.5)
    with mlflow.start_run() as run:
        uri = registry.log_model(model, frame.head(3))[0]
    return registry.register_candidate(client, NAME, uri, run.info.run_id, {"riskops.data_hash": "abc"})


def _stage(client: MlflowClient, version: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.get_model_version(NAME, version).current_stage


def test_candidate_is_staging_with_challenger_alias(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    assert _stage(client, v) == "Staging"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == v
    assert registry.resolve_champion(client, NAME) is None


def test_promoting_twice_archives_the_old_champion_with_audit(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # stage calls must not leak deprecation warnings
        audit1 = registry.promote(client, NAME, v1, "Ada", "first model")
        audit2 = registry.promote(client, NAME, v2, "Grace")
    assert audit1["previous_champion"] == "none" and audit2["previous_champion"] == v1
    assert _stage(client, v1) == "Archived" and _stage(client, v2) == "Production"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v2
    tags = client.get_model_version(NAME, v2).tags
    assert tags["riskops.approved_by"] == "Grace" and tags["riskops.data_hash"] == "abc"
    assert tags["riskops.previous_champion"] == v1 and tags["riskops.promoted_at"]
    assert client.get_model_version(NAME, v1).tags["riskops.replaced_by"] == v2
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(NAME, "challenger")  # consumed by the promotion




def test_reject_tags_reason_and_blocks_promotion(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    registry.reject(client, NAME, v, "Ada", "unstable on recent weeks")
    tags = client.get_model_version(NAME, v).tags
    assert tags["riskops.status"] == "rejected" and tags["riskops.rejected_reason"] == "unstable on recent weeks"
    assert _stage(client, v) == "Archived"
    with pytest.raises(RiskopsError, match="was rejected"):
        registry.promote(client, NAME, v, "Bob")


def test_stage_set_directly_in_mlflow_is_honoured_and_synced(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    registry.promote(client, NAME, v1, "Ada")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.transition_model_version_stage(NAME, v2, "Production", archive_existing_versions=True)
    champion = registry.resolve_champion(client, NAME)
    assert (champion.version, champion.source) == (v2, "stage")
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v2  # alias brought in step


def test_alias_moved_directly_in_mlflow_is_honoured_and_synced(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    registry.promote(client, NAME, v1, "Ada")
    client.set_registered_model_alias(NAME, "champion", v2)
    champion = registry.resolve_champion(client, NAME)
    assert (champion.version, champion.source) == (v2, "alias")
    assert _stage(client, v2) == "Production" and _stage(client, v1) == "Archived"


def test_unknown_version_is_a_clear_error(mlflow_store):
    client = MlflowClient()
    _candidate(client)
    with pytest.raises(RiskopsError, match="has no version 42"):
        registry.promote(client, NAME, "42", "Ada")


def test_a_newer_candidate_supersedes_only_waiting_ones(mlflow_store):
    client = MlflowClient()
    champion, rejected, waiting, newest = (_candidate(client) for _ in range(4))
    registry.promote(client, NAME, champion, "Ada")
    registry.reject(client, NAME, rejected, "Ada", "weak")
    assert registry.supersede_waiting(client, NAME, newest) == [waiting]
    tags = registry.status(client, NAME, waiting)
    assert tags["status"] == "superseded" and tags["superseded_by"] == newest and tags["superseded_at"]
    assert _stage(client, waiting) == "Archived"
    # decisions already taken are left as they were
    assert registry.status(client, NAME, champion)["status"] == "champion"
    assert registry.status(client, NAME, rejected)["status"] == "rejected"
    assert registry.status(client, NAME, newest)["status"] == "candidate"
    for action in (lambda: registry.promote(client, NAME, waiting, "Ada"),
                   lambda: registry.reject(client, NAME, waiting, "Ada", "late")):
        with pytest.raises(RiskopsError, match=f"superseded by version {newest}"):
            action()
    assert registry.supersede_waiting(client, NAME, newest) == []  # idempotent
