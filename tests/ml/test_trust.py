"""`ml.governance.trust`: the one rule of which version may decide a dataset, read by nightly scoring
(`score.resolve_model`) and the decision service (`sync=False`) alike, on a real MLflow store."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from ml.errors import MissingDataError, RiskopsError
from ml.governance import approvals, registry, trust
from ml.governance.halt import halt, resume
from ml.scoring import score
from tests.helpers import tiny_candidate

DS = "trusty"
NAME = registry.model_name(DS)
REPORT = b"%PDF reviewed"


def _champion(client: MlflowClient) -> str:
    version = tiny_candidate(client, NAME, REPORT)
    approvals.promote(client, NAME, version, "Ada", "fine", report=REPORT)
    return version


def test_the_champion_is_trusted_with_what_the_service_shows(mlflow_store):
    client = MlflowClient()
    with pytest.raises(MissingDataError, match="no Production model for 'trusty'"):
        trust.resolve(client, DS, sync=False)
    v = _champion(client)
    t = trust.resolve(client, DS, sync=False)
    assert (t.version, t.approved_by, t.halt, t.may_load) == (v, "Ada", None, True)
    assert t.report_sha256 == registry.tags(client, NAME, v)["report_sha256"] and t.since and t.model_sha256
    assert score.resolve_model(DS).version == v  # batch pins the same version through the same rule


def test_a_report_hash_changed_after_the_approval_is_refused_online_and_in_batch(mlflow_store):
    client = MlflowClient()
    v = _champion(client)
    client.set_model_version_tag(NAME, v, "riskops.report_sha256", "0" * 64)
    for resolve in (lambda: trust.resolve(client, DS, sync=False), lambda: score.resolve_model(DS)):
        with pytest.raises(RiskopsError, match=f"version {v} may not decide: its report SHA-256 .* changed in MLflow"):
            resolve()


def test_a_rejected_version_set_as_champion_directly_is_refused_and_nothing_is_written_online(mlflow_store):
    client = MlflowClient()
    _champion(client)
    bad = tiny_candidate(client, NAME, REPORT)
    approvals.reject(client, NAME, bad, "Grace", "miscalibrated")
    registry.set_alias(client, NAME, registry.CHAMPION, bad)
    trail = registry.audit_trail(client, NAME, bad)
    with pytest.raises(RiskopsError, match="rejected by Grace"):
        trust.resolve(client, DS, sync=False, consequence="the service keeps what it serves")
    assert registry.audit_trail(client, NAME, bad) == trail  # the service only reads
    with pytest.raises(RiskopsError, match="rejected by Grace"):
        score.resolve_model(DS)  # batch records the refusal in the version's trail
    assert registry.audit_trail(client, NAME, bad)[-1]["action"] == "refused as champion"


def test_while_halted_no_version_decides_and_batch_refuses_to_pin_one(mlflow_store):
    client = MlflowClient()
    v = _champion(client)
    halt(client, NAME, "Ada", "drifting")
    t = trust.resolve(client, DS, sync=False)
    assert t.version == v and t.halt is not None and t.halt.reason == "drifting" and not t.may_load
    with pytest.raises(RiskopsError, match="is halted by Ada .*: no version of it scores"):
        score.resolve_model(DS)
    assert score.resolve_model(DS, v).version == v  # an explicit re-scoring version is the CLI's to refuse
    resume(client, NAME, "Ada", "fixed")
    assert trust.resolve(client, DS, sync=False).may_load


def test_an_explicit_version_must_have_been_approved(mlflow_store):
    client = MlflowClient()
    _champion(client)
    waiting = tiny_candidate(client, NAME, REPORT)
    with pytest.raises(RiskopsError, match=f"version {waiting} may not score: it was never approved"):
        trust.resolve(client, DS, waiting)
