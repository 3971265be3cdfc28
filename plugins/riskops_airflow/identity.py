"""Identity from a directory (FAB's auth manager with LDAP login, docker-compose.yaml): which directory group
is which Airflow role, what the approver role may do, and who may answer an approval.

Roles are synced from the directory at every login (AUTH_ROLES_SYNC_AT_LOGIN): whoever leaves the approvers'
group loses the role at their next login. Who may answer a given approval is resolved when its gate opens,
from the group itself, as FAB's user ids: HITL's `assigned_users` must carry the ids the auth manager uses,
and FAB's are numeric database ids, not usernames (apache/airflow#61817). Someone in the group who has never
logged in has no FAB id yet and cannot be assigned until they do.

Everything here but `directory_members` is a pure function of its arguments (tests check the role against
FAB's own permission code). Not done yet (docs/deployment.md): FAB's users API does not return ids, and a task
may not read Airflow's database in Airflow 3, so the gate has no way yet to learn the ids of the group's
members; `resolve_approvers` is the rule it will apply once an endpoint of the API server provides them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

APPROVER_ROLE = "RiskApprover"
# a person in none of the groups gets this role: no rights at all (FAB's Public role is empty in Airflow)
NO_ROLE = "Public"
# the riskops DAG families of a dataset (dags/*.py), and those whose approvals an approver answers; halt and
# resume are triggered by an approver (the stop switch: dags/oversight.py)
DAG_FAMILIES = ("preprocess", "score", "stability", "backtest", "retrain", "rollback", "halt", "resume")
ANSWERED = ("retrain", "rollback")
TRIGGERED = ("halt", "resume")
GLOBAL_DAGS = ("inventory",)

CAN_READ, CAN_EDIT, CAN_CREATE = "can_read", "can_edit", "can_create"


def riskops_dag_ids(datasets: Iterable[str]) -> list[str]:
    """Every riskops DAG id of these datasets (and the global ones)."""
    return [*GLOBAL_DAGS, *(f"{family}_{ds}" for ds in datasets for family in DAG_FAMILIES)]


def approver_permissions(datasets: Sequence[str]) -> list[tuple[str, str]]:
    """The approver role's (action, resource) pairs in FAB's terms, and nothing more: read the riskops DAGs,
    their runs, task instances, logs and Required Actions; answer Required Actions (FAB checks `can_edit` on
    the HITL details and on the DAG itself) on the retrain and rollback DAGs; trigger halt and resume. No
    connection, variable, pool, configuration, other DAG, or run of any other DAG."""
    read = [(CAN_READ, f"DAG:{dag_id}") for dag_id in riskops_dag_ids(datasets)]
    answer = [(CAN_EDIT, f"DAG:{family}_{ds}") for ds in datasets for family in (*ANSWERED, *TRIGGERED)]
    trigger = [(CAN_CREATE, f"DAG Run:{family}_{ds}") for ds in datasets for family in TRIGGERED]
    sub_entities = [(CAN_READ, r) for r in ("DAG Runs", "Task Instances", "Task Logs", "HITL Detail", "Website",
                                            "My Profile")]
    return [*read, *answer, *trigger, *sub_entities, (CAN_EDIT, "HITL Detail"),
            ("menu_access", "Browse"), ("menu_access", "DAGs"), ("menu_access", "HITL Detail")]


def fab_roles(datasets: Sequence[str]) -> dict[str, list[list[str]]]:
    """FAB_ROLES of webserver_config.py: the custom roles FAB creates or updates at start."""
    return {APPROVER_ROLE: [list(p) for p in approver_permissions(datasets)]}


def roles_mapping(groups: Mapping[str, str]) -> dict[str, list[str]]:
    """AUTH_ROLES_MAPPING: group DN -> FAB roles. `groups` maps the three groups (risk-approvers, risk-team,
    platform-operators) to their DNs: approvers get the approver role, the risk team FAB's read-only Viewer,
    platform operators Admin (they trigger runs, and never approve: separation of duties)."""
    return {groups["risk-approvers"]: [APPROVER_ROLE], groups["risk-team"]: ["Viewer"],
            groups["platform-operators"]: ["Admin"]}


def resolve_approvers(members: Iterable[str], fab_users: Mapping[str, int]) -> list[dict[str, str]]:
    """HITL `assigned_users` for the group's `members` (usernames): FAB's numeric id as "id", the username as
    "name", sorted by name; members FAB has never seen (never logged in) are left out."""
    return [{"id": str(fab_users[name]), "name": name} for name in sorted(set(members)) if name in fab_users]


def directory_members(group_dn: str) -> list[str]:
    """The uids of the group's members, read from the directory now (RISKOPS_LDAP_URL, RISKOPS_LDAP_BIND_DN,
    RISKOPS_LDAP_BIND_PASSWORD): a member removed from the group is gone at once."""
    import ldap  # python-ldap: in the Airflow image (requirements/ldap.in)

    conn = ldap.initialize(os.environ["RISKOPS_LDAP_URL"])
    try:
        conn.simple_bind_s(os.environ["RISKOPS_LDAP_BIND_DN"], os.environ["RISKOPS_LDAP_BIND_PASSWORD"])
        results = conn.search_s(group_dn, ldap.SCOPE_BASE, attrlist=["member"])
    finally:
        conn.unbind_s()
    members = [m.decode() for _, attrs in results for m in attrs.get("member", [])]
    return [dn.split(",", 1)[0].removeprefix("uid=") for dn in members if dn.startswith("uid=")]

