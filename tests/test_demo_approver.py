"""The demo's approver has the least role of Airflow's SimpleAuthManager that lets them answer an approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.airflow_runtime import airflow_env


def _role(user: str) -> str:
    users = dict(u.split(":") for u in airflow_env(Path("/tmp/h"), 8080)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
                 .split(","))
    return users[user]


def test_the_demo_approver_has_the_least_role_that_answers_an_approval(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager, SimpleAuthManagerRole
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    manager = SimpleAuthManager()
    role = _role("risk-approver")
    assert role == "user"

    def can_answer(role: str) -> bool:
        # what PATCH .../hitlDetails requires (airflow/api_fastapi/core_api/routes/public/hitl.py), then the task's
        # assigned users
        user = SimpleAuthManagerUser(username="risk-approver", role=role)
        return manager.is_authorized_dag(method="PUT", access_entity=DagAccessEntity.HITL_DETAIL, user=user) and \
            manager.is_authorized_hitl_task(assigned_users={"risk-approver"}, user=user)

    ordered = sorted(SimpleAuthManagerRole, key=lambda r: r.order)
    able = [r.name.lower() for r in ordered if can_answer(r.name.lower())]
    assert able[0] == role  # every role below it is refused
    approver = SimpleAuthManagerUser(username="risk-approver", role=role)
    # and it may not touch connections, variables, pools or the configuration
    assert not manager.is_authorized_connection(method="PUT", user=approver)
    assert not manager.is_authorized_variable(method="PUT", user=approver)
    assert not manager.is_authorized_pool(method="PUT", user=approver)
    assert not manager.is_authorized_configuration(method="PUT", user=approver)
    # someone with that role who is not assigned is refused too
    other = SimpleAuthManagerUser(username="someone-else", role=role)
    assert not manager.is_authorized_hitl_task(assigned_users={"risk-approver"}, user=other)
