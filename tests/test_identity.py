"""The directory's roles checked against FAB's own permission code (FabAuthManager's is_authorized_*), as
tests/test_demo_approver.py does for SimpleAuthManager: the approver role reads the riskops DAGs and answers
Required Actions on the retrain and rollback DAGs (and triggers halt and resume), nothing else; the risk team
reads and may not answer; who may answer is the group's members by FAB's numeric ids."""

from __future__ import annotations

import pytest

from riskops_airflow.identity import (
    APPROVER_ROLE,
    approver_permissions,
    fab_roles,
    resolve_approvers,
    riskops_dag_ids,
    roles_mapping,
)

DATASETS = ["give_me_some_credit", "bank_marketing"]
DS = DATASETS[0]


def fab_user(user_id: int, username: str, role_name: str, perms: list[tuple[str, str]]):
    """A FAB user holding one role with `perms`, built from FAB's own models (no database: outside a Flask
    app, User.perms is computed from the roles, as FAB does)."""
    from airflow.providers.fab.auth_manager.models import Action, Permission, Resource, Role, User

    role = Role(name=role_name)
    role.permissions = [Permission(action=Action(name=a), resource=Resource(name=r)) for a, r in perms]
    user = User(id=user_id, username=username, first_name=username, last_name="x", email=f"{username}@x", active=True)
    user.roles = [role]
    return user


@pytest.fixture(scope="module")
def manager():
    from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

    return FabAuthManager()


def viewer_perms() -> list[tuple[str, str]]:
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride

    return list(FabAirflowSecurityManagerOverride.VIEWER_PERMISSIONS)


def can_answer(manager, user, dag_id: str, assigned: set[str]) -> bool:
    """What PATCH .../hitlDetails requires (airflow/api_fastapi/core_api/routes/public/hitl.py), then the
    task's assigned users."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return manager.is_authorized_dag(method="PUT", access_entity=DagAccessEntity.HITL_DETAIL,
                                     details=DagDetails(id=dag_id), user=user) and \
        manager.is_authorized_hitl_task(assigned_users=assigned, user=user)


def test_the_approver_answers_retrain_and_rollback_approvals_when_assigned(manager):
    approver = fab_user(7, "approver-ana", APPROVER_ROLE, approver_permissions(DATASETS))
    for family in ("retrain", "rollback"):
        assert can_answer(manager, approver, f"{family}_{DS}", {"7"})
    # FAB's ids, not usernames (apache/airflow#61817)
    assert not can_answer(manager, approver, f"retrain_{DS}", {"approver-ana"})
    assert not can_answer(manager, approver, f"retrain_{DS}", {"8"})


def test_the_approver_cannot_answer_elsewhere_nor_touch_the_platform(manager):
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    approver = fab_user(7, "approver-ana", APPROVER_ROLE, approver_permissions(DATASETS))
    for dag_id in (f"score_{DS}", f"preprocess_{DS}", "some_other_dag"):
        assert not can_answer(manager, approver, dag_id, {"7"}), dag_id
    for check in (manager.is_authorized_connection, manager.is_authorized_variable, manager.is_authorized_pool,
                  manager.is_authorized_configuration):
        for method in ("GET", "PUT", "POST", "DELETE"):
            assert not check(method=method, user=approver), (check.__name__, method)
    # reads every riskops DAG and its runs, no other DAG
    for dag_id in riskops_dag_ids(DATASETS):
        assert manager.is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=approver), dag_id
        assert manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN,
                                         details=DagDetails(id=dag_id), user=approver), dag_id
    assert not manager.is_authorized_dag(method="GET", details=DagDetails(id="some_other_dag"), user=approver)
    # no runs of other DAGs: triggering, clearing or deleting
    for dag_id in (f"score_{DS}", f"retrain_{DS}", f"rollback_{DS}", "some_other_dag"):
        for method in ("POST", "PUT", "DELETE"):
            assert not manager.is_authorized_dag(method=method, access_entity=DagAccessEntity.RUN,
                                                 details=DagDetails(id=dag_id), user=approver), (dag_id, method)
        assert not manager.is_authorized_dag(method="PUT", access_entity=DagAccessEntity.TASK_INSTANCE,
                                             details=DagDetails(id=dag_id), user=approver), dag_id
    # the stop switch: an approver triggers halt and resume
    for family in ("halt", "resume"):
        assert manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN,
                                         details=DagDetails(id=f"{family}_{DS}"), user=approver), family


def test_the_risk_team_reads_but_cannot_answer(manager):
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    analyst = fab_user(9, "analyst-tom", "Viewer", viewer_perms())
    assert manager.is_authorized_dag(method="GET", details=DagDetails(id=f"retrain_{DS}"), user=analyst)
    assert not can_answer(manager, analyst, f"retrain_{DS}", {"9"}), "even if assigned by mistake"
    nobody = fab_user(10, "leaver-lena", "Public", [])
    assert not can_answer(manager, nobody, f"retrain_{DS}", {"10"}), "out of the group: no role, no answer"


def test_groups_map_to_roles_and_the_role_is_defined_for_fab():
    groups = {g: f"cn={g},ou=groups,dc=riskops,dc=local" for g in ("risk-approvers", "risk-team", "platform-operators")}
    mapping = roles_mapping(groups)
    assert mapping[groups["risk-approvers"]] == [APPROVER_ROLE]
    assert "Admin" not in mapping[groups["risk-approvers"]] and APPROVER_ROLE not in mapping[groups["platform-operators"]]
    roles = fab_roles(DATASETS)
    assert set(roles) == {APPROVER_ROLE}
    assert {tuple(p) for p in roles[APPROVER_ROLE]} == set(approver_permissions(DATASETS))


def test_approvers_are_the_groups_members_by_fab_id():
    fab_ids = {"approver-ana": 7, "approver-ben": 8, "analyst-tom": 9}
    assert resolve_approvers(["approver-ben", "approver-ana", "never-logged-in"], fab_ids) == [
        {"id": "7", "name": "approver-ana"}, {"id": "8", "name": "approver-ben"}]
    assert resolve_approvers([], fab_ids) == []
