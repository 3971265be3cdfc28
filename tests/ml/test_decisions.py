"""Decisions on registered versions, on a real MLflow store: promotion, rejection, supersession, direct
changes in MLflow, and which version may score."""

from __future__ import annotations

import warnings

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.errors import RiskopsError
from ml.governance import approvals, registry
from tests.helpers import tiny_candidate

NAME = "riskops-test"
REPORT = b"%PDF the report the approvers read"


def _candidate(client: MlflowClient, with_report: bool = True, **tags: str) -> str:
    return tiny_candidate(client, NAME, REPORT if with_report else None, **tags)


def _promote(client: MlflowClient, version: str, approver: str = "Ada", **kw: object) -> dict:
    return approvals.promote(client, NAME, version, approver, report=REPORT, **kw)


def _stage(client: MlflowClient, version: str) -> str:
    return registry.stage(client, NAME, version)


def test_candidate_is_staging_with_challenger_alias(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    assert _stage(client, v) == "Staging"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == v
    assert approvals.sync_champion(client, NAME) is None


def test_promoting_twice_archives_the_old_champion_with_audit(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # stage calls must not leak deprecation warnings
        audit1 = _promote(client, v1, note="first model")
        audit2 = _promote(client, v2, "Grace")
    assert audit1["previous_champion"] == "none" and audit2["previous_champion"] == v1
    assert _stage(client, v1) == "Archived" and _stage(client, v2) == "Production"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v2
    tags = registry.tags(client, NAME, v2)
    assert tags["approved_by"] == "Grace" and tags["data_hash"] == "abc" and tags["model_sha256"]
    assert tags["previous_champion"] == v1 and tags["promoted_at"] and "promotion_pending" not in tags
    assert registry.tags(client, NAME, v1)["replaced_by"] == v2
    assert [d["action"] for d in registry.audit_trail(client, NAME, v1)] == ["approved", "promoted", "archived"]
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(NAME, "challenger")  # consumed by the promotion
    with pytest.raises(RiskopsError, match="already the champion"):
        _promote(client, v2)


def test_promotion_checks_the_reviewed_report(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    with pytest.raises(RiskopsError, match="does not match the SHA-256 recorded at registration"):
        approvals.promote(client, NAME, v, "Ada", report=REPORT + b" edited after review")
    with pytest.raises(RiskopsError, match="neither in storage nor in MLflow"):
        approvals.promote(client, NAME, v, "Ada", report=None)
    unreviewed = _candidate(client, with_report=False)
    with pytest.raises(RiskopsError, match="not trained and registered by riskops with a report"):
        _promote(client, unreviewed)
    assert approvals.sync_champion(client, NAME) is None


def test_only_configured_approvers_and_never_who_triggered(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    with pytest.raises(RiskopsError, match="'Mallory' is not one of the configured approvers"):
        _promote(client, v, "Mallory", approvers=("Ada", "Grace"))
    with pytest.raises(RiskopsError, match="triggered this retraining and may not approve it"):
        _promote(client, v, "Ada", approvers=("Ada", "Grace"), triggered_by="Ada")
    with pytest.raises(RiskopsError, match="must not be blank"):
        _promote(client, v, "   ")
    assert _promote(client, v, "Grace", approvers=("Ada", "Grace"), triggered_by="Ada")["approved_by"] == "Grace"


def test_rejection_is_recorded_once_and_re_rejecting_appends(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    approvals.reject(client, NAME, v, "Ada", "unstable on recent weeks")
    approvals.reject(client, NAME, v, "Grace", "-- and calibration is off")
    tags = registry.tags(client, NAME, v)
    assert tags["status"] == "rejected" and tags["rejected_by"] == "Ada"
    assert tags["rejected_reason"] == "unstable on recent weeks"  # the first decision is never overwritten
    assert [(d["by"], d["reason"]) for d in registry.audit_trail(client, NAME, v)] == [
        ("Ada", "unstable on recent weeks"), ("Grace", "-- and calibration is off")]
    assert _stage(client, v) == "Archived"
    with pytest.raises(RiskopsError, match="was rejected by Ada"):
        _promote(client, v, "Bob")


def test_stage_set_directly_in_mlflow_is_honoured_synced_and_recorded(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    _promote(client, v1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.transition_model_version_stage(NAME, v2, "Production", archive_existing_versions=True)
    champion = approvals.sync_champion(client, NAME)
    assert (champion.version, champion.source) == (v2, "stage")
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v2  # alias brought in step
    tags = registry.tags(client, NAME, v2)
    assert tags["approved_by"].startswith("unknown (set directly in MLflow")
    assert tags["previous_champion"] == v1 and registry.tags(client, NAME, v1)["status"] == "archived"
    (entry,) = registry.audit_trail(client, NAME, v2)
    assert entry["action"] == "promoted directly in MLflow" and entry["what"] == "stage Production"
    assert approvals.sync_champion(client, NAME).source == "alias+stage"  # recorded once, in step now


def test_alias_moved_directly_in_mlflow_is_honoured_and_synced(mlflow_store):
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    _promote(client, v1)
    client.set_registered_model_alias(NAME, "champion", v2)
    champion = approvals.sync_champion(client, NAME)
    assert (champion.version, champion.source) == (v2, "alias")
    assert _stage(client, v2) == "Production" and _stage(client, v1) == "Archived"


@pytest.mark.parametrize("make", ["rejected", "unreviewed", "superseded"])
def test_a_version_that_may_not_score_is_refused_as_champion(mlflow_store, make):
    client = MlflowClient()
    good = _candidate(client)
    _promote(client, good)
    bad = _candidate(client, with_report=make != "unreviewed")
    if make == "rejected":
        approvals.reject(client, NAME, bad, "Ada", "leaks the target")
    if make == "superseded":
        approvals.supersede_waiting(client, NAME, _candidate(client))
    client.set_registered_model_alias(NAME, "champion", bad)  # someone moves the alias directly in MLflow
    expected = {"rejected": "it was rejected by Ada", "unreviewed": "it was not trained and registered by riskops",
                "superseded": "it was superseded by version"}[make]
    with pytest.raises(RiskopsError, match=f"version {bad} is the champion in MLflow .alias champion., but {expected}"):
        approvals.sync_champion(client, NAME)
    refused = [d for d in registry.audit_trail(client, NAME, bad) if d["action"] == "refused as champion"]
    assert len(refused) == 1 and refused[0]["by"].startswith("unknown")
    with pytest.raises(RiskopsError):
        approvals.sync_champion(client, NAME)  # refused again, recorded once
    assert len([d for d in registry.audit_trail(client, NAME, bad) if d["action"] == "refused as champion"]) == 1


def test_explicit_versions_must_have_been_approved_and_never_rejected(mlflow_store):
    client = MlflowClient()
    former, current, waiting, rejected = (_candidate(client) for _ in range(4))
    _promote(client, former)
    _promote(client, current)
    approvals.reject(client, NAME, rejected, "Ada", "weak")
    approvals.check_may_score(client, NAME, former)  # a former champion may re-score its days
    approvals.check_may_score(client, NAME, current)
    with pytest.raises(RiskopsError, match=f"version {waiting} may not score: it was never approved"):
        approvals.check_may_score(client, NAME, waiting)
    with pytest.raises(RiskopsError, match=f"version {rejected} may not score: it was rejected by Ada"):
        approvals.check_may_score(client, NAME, rejected)


def test_unknown_version_is_a_clear_error(mlflow_store):
    client = MlflowClient()
    _candidate(client)
    with pytest.raises(RiskopsError, match="has no version 42"):
        _promote(client, "42")


def test_a_newer_candidate_supersedes_only_waiting_ones(mlflow_store):
    client = MlflowClient()
    champion, rejected, waiting, newest = (_candidate(client) for _ in range(4))
    _promote(client, champion)
    approvals.reject(client, NAME, rejected, "Ada", "weak")
    assert approvals.supersede_waiting(client, NAME, newest) == [waiting]
    tags = registry.tags(client, NAME, waiting)
    assert tags["status"] == "superseded" and tags["superseded_by"] == newest and tags["superseded_at"]
    assert _stage(client, waiting) == "Archived"
    # decisions already taken are left as they were
    assert registry.tags(client, NAME, champion)["status"] == "champion"
    assert registry.tags(client, NAME, rejected)["status"] == "rejected"
    assert registry.tags(client, NAME, newest)["status"] == "candidate"
    assert approvals.waiting_candidates(client, NAME) == [newest]
    for action in (lambda: _promote(client, waiting), lambda: approvals.reject(client, NAME, waiting, "Ada", "late")):
        with pytest.raises(RiskopsError, match=f"superseded by version {newest}"):
            action()
    assert approvals.supersede_waiting(client, NAME, newest) == []  # idempotent


@pytest.mark.parametrize("reason", ["-0.4pt", "--worse", "--approver Grace"])
def test_a_reason_starting_with_a_dash_is_recorded_as_given(reason, mlflow_store, tmp_path, monkeypatch, capsys):
    """docs/cli.md promises it: free text starting with '-' is one value (argparse alone says 'expected one
    argument')."""
    from ml.cli import main

    (tmp_path / "test.yaml").write_text("name: test\ncolumns: [{name: id, type: string, role: id}]\n"
                                        "label: {column: y, maturity_lag_days: 0}\n")  # its model is riskops-test
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    version = _candidate(MlflowClient())
    assert main(["reject", "--dataset", "test", "--version", version, "--approver", "Ada", "--reason", reason]) == 0
    assert capsys.readouterr().out == f"{NAME} version {version} rejected by Ada: {reason}\n"
    tags = registry.tags(MlflowClient(), NAME, version)
    assert tags["rejected_reason"] == reason and tags["rejected_by"] == "Ada"
