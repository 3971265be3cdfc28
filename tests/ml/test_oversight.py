"""Human oversight on a real MLflow store: four eyes (a quorum of distinct approvers bound to the report and model
hashes), separation of duties, the champion history, rollback to an earlier champion, and the stop switch."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from ml.cli import main
from ml.errors import RiskopsError
from ml.governance import approvals, champions, registry
from ml.governance.halt import champion_line, halt, halted, resume
from tests.helpers import tiny_candidate

NAME = "riskops-test"
REPORT = b"%PDF the report the approvers read"
APPROVERS = ("Ada", "Grace", "Linus")


def _candidate(client: MlflowClient, **tags: str) -> str:
    return tiny_candidate(client, NAME, REPORT, **tags)


def _approve(client: MlflowClient, version: str, approver: str, quorum: int = 2, **kw: object) -> dict:
    return approvals.promote(client, NAME, version, approver, f"{approver}'s note", report=REPORT,
                             approvers=APPROVERS, quorum=quorum, **kw)


def _champion(client: MlflowClient) -> str | None:
    found = approvals.champion(client, NAME)
    return found and found.version


def _actions(client: MlflowClient, version: str) -> list[str]:
    return [d["action"] for d in registry.audit_trail(client, NAME, version)]


# ---- four eyes -------------------------------------------------------------------------------------------

def test_a_quorum_of_two_distinct_approvers_promotes_and_each_approval_is_recorded_as_it_arrives(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    first = _approve(client, v, "Ada")
    assert first == {"status": "waiting", "approvals": ["Ada"], "quorum": 2, "already": False}
    (entry,) = registry.audit_trail(client, NAME, v)  # recorded at once: who, when, note, the hashes
    assert entry["action"] == "approved" and entry["by"] == "Ada" and entry["note"] == "Ada's note" and entry["at"]
    assert entry["report_sha256"] == registry.tags(client, NAME, v)["report_sha256"] and entry["model_sha256"]
    assert _champion(client) is None and registry.tags(client, NAME, v)["status"] == "candidate"
    assert approvals.approved_so_far(client, NAME, v) == ["Ada"]  # whom the next approval gate does not ask
    # the same approver again counts once
    assert _approve(client, v, "Ada")["already"] is True
    assert _actions(client, v) == ["approved"] and _champion(client) is None
    audit = _approve(client, v, "Grace")
    assert audit["status"] == "champion" and audit["approvals"] == ["Ada", "Grace"]
    assert audit["approved_by"] == "Ada, Grace" and audit["approval_note"] == "Ada: Ada's note; Grace: Grace's note"
    assert _champion(client) == v and _actions(client, v) == ["approved", "approved", "promoted"]
    (event,) = champions.history(client, NAME)
    assert (event.action, event.version, event.by, event.previous) == ("promoted", v, "Ada, Grace", "none")
    assert event.report_sha256 == registry.tags(client, NAME, v)["report_sha256"]


def test_approvals_count_only_for_the_hashes_the_version_carries(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    _approve(client, v, "Ada")
    # the model files' hash changed after Ada approved (edited in MLflow): her approval was for other files
    client.set_model_version_tag(NAME, v, "riskops.model_sha256", "0" * 64)
    assert _approve(client, v, "Grace") == {"status": "waiting", "approvals": ["Grace"], "quorum": 2,
                                             "already": False}
    assert _champion(client) is None


def test_refusals_a_third_person_not_in_the_list_the_trainer_and_who_triggered(mlflow_store):
    client = MlflowClient()
    v = _candidate(client, trained_by="Ada")
    with pytest.raises(RiskopsError, match="'Mallory' is not one of the configured approvers"):
        _approve(client, v, "Mallory")
    with pytest.raises(RiskopsError, match="'Ada' trained this version and may not approve it .separation of duties"):
        _approve(client, v, "Ada", separate_duties=True)
    with pytest.raises(RiskopsError, match="'Grace' triggered this retraining and may not approve it"):
        _approve(client, v, "Grace", triggered_by="Grace", separate_duties=True)
    assert registry.audit_trail(client, NAME, v) == []  # refusals record nothing
    # without separation of duties the trainer's approval counts like anyone's
    assert _approve(client, v, "Ada")["status"] == "waiting"


def test_a_rejection_by_any_approver_ends_it(mlflow_store):
    client = MlflowClient()
    v = _candidate(client)
    _approve(client, v, "Ada")
    approvals.reject(client, NAME, v, "Grace", "calibration is off", approvers=APPROVERS)
    with pytest.raises(RiskopsError, match="was rejected by Grace"):
        _approve(client, v, "Linus")
    assert _champion(client) is None and _actions(client, v) == ["approved", "rejected"]


# ---- champion history and rollback ------------------------------------------------------------------------

@pytest.fixture
def two_champions(mlflow_store) -> tuple[MlflowClient, str, str]:
    """Version 1 promoted, then version 2 promoted over it (one approver each)."""
    client = MlflowClient()
    v1, v2 = _candidate(client), _candidate(client)
    _approve(client, v1, "Ada", quorum=1)
    _approve(client, v2, "Grace", quorum=1)
    return client, v1, v2


def _rollback(client: MlflowClient, approver: str, version: str | None = None, quorum: int = 2,
              reason: str = "v2 declines good customers") -> dict:
    target, _ = approvals.rollback_target(client, NAME, version)
    return approvals.rollback(client, NAME, target, approver, reason, report=REPORT, approvers=APPROVERS,
                              quorum=quorum)


def test_a_rollback_re_promotes_the_previous_champion_after_the_quorum(two_champions):
    client, v1, v2 = two_champions
    assert approvals.rollback_target(client, NAME) == (v1, v2)
    waiting = _rollback(client, "Ada")
    assert waiting["status"] == "waiting" and waiting["approvals"] == ["Ada"] and _champion(client) == v2
    assert waiting["request"]["from"] == v2 and waiting["request"]["by"] == "Ada"
    assert approvals.approved_so_far(client, NAME, v1) == ["Ada"] and approvals.approved_so_far(client, NAME, v2) == []
    audit = _rollback(client, "Linus", reason="agreed")
    assert audit["status"] == "champion" and audit["kind"] == "rolled back" and audit["previous_champion"] == v2
    assert _champion(client) == v1 and registry.stage(client, NAME, v2) == "Archived"
    assert registry.tags(client, NAME, v1)["approved_by"] == "Ada"  # its first promotion's audit stays
    assert "rollback_request" not in registry.tags(client, NAME, v1)
    assert _actions(client, v1) == ["approved", "promoted", "archived", "rollback requested", "rollback approved",
                                    "rollback approved", "rolled back to"]
    events = champions.history(client, NAME)
    assert [(e.action, e.version, e.previous) for e in events] == [
        ("promoted", v1, "none"), ("promoted", v2, v1), ("rolled back", v1, v2)]
    assert events[-1].by == "Ada, Linus" and events[-1].why == "v2 declines good customers"
    # the scoring side: v1 is the champion that scores, and it may score
    approvals.check_may_score(client, NAME, v1)
    assert approvals.sync_champion(client, NAME).source == "alias+stage"


def test_a_rollback_to_a_rejected_or_never_approved_version_is_refused(two_champions):
    client, v1, v2 = two_champions
    rejected, waiting = _candidate(client), _candidate(client)
    approvals.reject(client, NAME, rejected, "Ada", "leaks the target")
    with pytest.raises(RiskopsError, match=f"cannot roll back {NAME} to version {rejected}: it was rejected by Ada"):
        _rollback(client, "Grace", rejected)
    with pytest.raises(RiskopsError, match=f"version {waiting}: it was never approved"):
        _rollback(client, "Grace", waiting)
    with pytest.raises(RiskopsError, match=f"version {v2} is already the champion"):
        _rollback(client, "Grace", v2)
    approvals.reject(client, NAME, v1, "Linus", "found a leak afterwards")  # a former champion rejected later
    with pytest.raises(RiskopsError, match="it was rejected by Linus"):
        _rollback(client, "Grace")
    assert _champion(client) == v2 and [e.action for e in champions.history(client, NAME)] == ["promoted"] * 2


def test_a_former_champion_is_restored_only_by_a_rollback_not_by_its_old_approvals(two_champions):
    client, v1, _ = two_champions
    with pytest.raises(RiskopsError, match=f"version {v1} was the champion before .approved by Ada.; to restore "
                                           "it, roll back: python -m ml rollback"):
        _approve(client, v1, "Linus", quorum=2)


def test_the_first_champion_has_nothing_to_roll_back_to(mlflow_store):
    client = MlflowClient()
    with pytest.raises(RiskopsError, match="has no champion: there is nothing to roll back"):
        approvals.rollback_target(client, NAME)
    _approve(client, _candidate(client), "Ada", quorum=1)
    with pytest.raises(RiskopsError, match="no earlier champion to roll back to"):
        approvals.rollback_target(client, NAME)


def test_a_declined_rollback_closes_the_request_and_leaves_both_versions(two_champions):
    client, v1, v2 = two_champions
    _rollback(client, "Ada")
    approvals.decline_rollback(client, NAME, v1, "Grace", "not before the backtest", approvers=APPROVERS)
    assert "rollback_request" not in registry.tags(client, NAME, v1) and _champion(client) == v2
    assert registry.tags(client, NAME, v1)["status"] == "archived" and _actions(client, v1)[-1] == "rollback declined"
    with pytest.raises(RiskopsError, match="no rollback of .* to version 1 is waiting"):
        approvals.decline_rollback(client, NAME, v1, "Grace", "again")
    # a new request starts from no approvals: Ada's approval of the declined one does not count
    assert _rollback(client, "Grace")["approvals"] == ["Grace"]


def test_a_change_made_directly_in_mlflow_is_in_the_champion_history(two_champions):
    client, v1, v2 = two_champions
    client.set_registered_model_alias(NAME, "champion", v1)
    approvals.sync_champion(client, NAME)
    event = champions.current(client, NAME)
    assert (event.action, event.version, event.previous) == ("promoted directly in MLflow", v1, v2)
    assert event.by.startswith("unknown")


# ---- the stop switch -------------------------------------------------------------------------------------

def test_halt_and_resume_by_an_approver_are_lines_of_the_champion_history(two_champions):
    client, _, v2 = two_champions
    with pytest.raises(RiskopsError, match="'Mallory' is not one of the configured approvers"):
        halt(client, NAME, "Mallory", "scores look wrong", approvers=APPROVERS)
    state, new = halt(client, NAME, "Linus", "scores look wrong", approvers=APPROVERS)
    assert new and state["by"] == "Linus" and state["version"] == v2 and halted(client, NAME) == state
    again, new = halt(client, NAME, "Ada", "me too", approvers=APPROVERS)
    assert not new and again == state  # the first halt's reason stays, recorded once
    assert "HALTED by Linus" in champion_line(client, NAME)
    event = resume(client, NAME, "Ada", "fixed upstream", approvers=APPROVERS)
    assert event["halt"] == state and halted(client, NAME) is None
    assert [(e.action, e.version, e.by) for e in champions.history(client, NAME)][-2:] == [
        ("halted", v2, "Linus"), ("resumed", v2, "Ada")]
    with pytest.raises(RiskopsError, match="is not halted: nothing to resume"):
        resume(client, NAME, "Ada", "again", approvers=APPROVERS)
    assert "HALTED" not in champion_line(client, NAME)


def test_an_edited_history_entry_is_named_not_half_read(two_champions):
    client, _, _ = two_champions
    client.set_registered_model_tag(NAME, "riskops.champion.2", json.dumps({"action": "promoted"}))
    with pytest.raises(RiskopsError, match="riskops.champion.2 is not a riskops event"):
        champions.history(client, NAME)


# ---- from a terminal ------------------------------------------------------------------------------------

@pytest.fixture
def test_spec(tmp_path, monkeypatch, data_root):
    """The dataset `test` (model riskops-test) asking for four eyes, with approvers configured."""
    (tmp_path / "test.yaml").write_text("name: test\ncolumns: [{name: id, type: string, role: id}]\n"
                                        "label: {column: y, maturity_lag_days: 0}\noversight: {approval_quorum: 2}\n")
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    monkeypatch.setenv("RISKOPS_APPROVER_USERS", ",".join(APPROVERS))
    return tmp_path


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_cli_records_one_approval_per_call_and_prints_the_history(mlflow_store, test_spec, data_root, capsys):
    from ml import layout
    from ml.storage import Storage

    client = MlflowClient()
    v = _candidate(client)
    Storage(str(data_root)).write_bytes(layout.candidate("test", v, "candidate.pdf"), REPORT)  # as retrain stores it
    promote = ["promote", "--dataset", "test", "--version", v]
    assert _cli(capsys, *promote, "--approver", "Ada", "--note", "fine")[:2] == (
        0, f"Ada approved: 1 of 2 approvals of the promotion of {NAME} version {v} (Ada); waiting for 1 more "
           "approver(s)\n")
    assert "Ada's approval was already recorded: 1 of 2" in _cli(capsys, *promote, "--approver", "Ada")[1]
    status, out, _ = _cli(capsys, *promote, "--approver", "Grace")
    assert status == 0 and f"{NAME} version {v} is now Production (alias champion); approved by Ada, Grace" in out
    status, out, err = _cli(capsys, *promote, "--approver", "Mallory")
    assert status == 2 and err.startswith("error: 'Mallory' is not one of the configured approvers") and \
        err.count("\n") == 1
    status, out, _ = _cli(capsys, "champions", "--dataset", "test")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 2 and f" promoted v{v} by Ada, Grace (report " in lines[0]
    assert lines[0].endswith("previous champion none): Ada: fine") and lines[1] == "now: not halted"


def test_the_cli_halts_and_resumes_and_leaves_one_mail_each(mlflow_store, test_spec, data_root, capsys):
    from ml import layout
    from ml.storage import Storage

    _approve(MlflowClient(), _candidate(MlflowClient()), "Ada", quorum=1)
    status, out, _ = _cli(capsys, "halt", "--dataset", "test", "--approver", "Linus", "--reason", "-- PDs too low")
    assert status == 0 and f"{NAME} halted by Linus at " in out and "scoring refuses" in out
    assert _cli(capsys, "halt", "--dataset", "test", "--approver", "Linus", "--reason", "x")[1].startswith(
        f"{NAME} was already halted by Linus")
    assert "now: HALTED by Linus since" in _cli(capsys, "champions", "--dataset", "test")[1]
    assert _cli(capsys, "resume", "--dataset", "test", "--approver", "Ada", "--reason", "fixed")[0] == 0
    storage = Storage(str(data_root))
    notices = [storage.read_json(k) for k in storage.list_files(layout.oversight_notices("test"))]
    assert sorted(n["subject"] for n in notices) == [f"[riskops] {NAME} HALTED by Linus: -- PDs too low",
                                                    f"[riskops] {NAME} resumed by Ada"]
    assert all(n["sent_at"] is None for n in notices)  # the Airflow side sends them
    status, _, err = _cli(capsys, "resume", "--dataset", "test", "--approver", "Ada", "--reason", "x")
    assert status == 2 and err == f"error: {NAME} is not halted: nothing to resume\n"


def test_a_bad_quorum_setting_is_one_line(mlflow_store, test_spec, monkeypatch, capsys):
    monkeypatch.setenv("RISKOPS_APPROVAL_QUORUM", "two")
    assert _cli(capsys, "champions", "--dataset", "test") == (
        2, "", "error: RISKOPS_APPROVAL_QUORUM must be a whole number from 1 to 10, not 'two'\n")


def test_under_separation_of_duties_the_requester_of_a_rollback_never_approves_it(two_champions):
    client, v1, v2 = two_champions
    target, _ = approvals.rollback_target(client, NAME)

    def approve(approver: str, requested_by: str | None = None) -> dict:
        return approvals.rollback(client, NAME, target, approver, "v2 declines good customers", report=REPORT,
                                  approvers=APPROVERS, quorum=2, requested_by=requested_by, separate_duties=True)

    with pytest.raises(RiskopsError, match="'Ada' triggered this rollback"):
        approve("Ada")  # opening it alone: the requester would approve their own request
    assert approve("Grace", requested_by="Ada")["request"]["by"] == "Ada"
    with pytest.raises(RiskopsError, match="'Ada' triggered this rollback"):
        approve("Ada")  # later, without naming anyone: still the request's requester
    assert approve("Linus")["status"] == "champion" and _champion(client) == v1
