"""Create (or reset the password of) the MLflow users of the platform and of the approvers, as MLflow's admin.

Run once the tracking server (`mlflow server --app-name basic-auth`) is up: by the compose service
`mlflow-init`, and by `demo.stack` (make stack, the production-like test). Standard library only, so it runs
in the MLflow image as well. Settings, from the environment:
  MLFLOW_TRACKING_URI                                        the server
  MLFLOW_AUTH_ADMIN_USERNAME, MLFLOW_AUTH_ADMIN_PASSWORD     its admin (basic_auth.ini's admin_username)
  MLFLOW_PLATFORM_USER, MLFLOW_PLATFORM_PASSWORD             riskops' own user: registers and promotes models
  MLFLOW_APPROVER_USER, MLFLOW_APPROVER_PASSWORD             a person who reviews candidates in MLflow's UI

Neither is an admin. The platform owns (MANAGE) what it creates; everyone else gets the server's
default_permission (READ in docker/mlflow/basic_auth.ini): an approver can read a candidate but not move
its stage or alias, which happens only through the approval in Airflow.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(method: str, path: str, body: dict | None = None, query: dict | None = None) -> int:
    """One admin request to the auth REST API; returns the HTTP status (errors included)."""
    env = os.environ
    url = env["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/" + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    auth = base64.b64encode(f"{env['MLFLOW_AUTH_ADMIN_USERNAME']}:{env['MLFLOW_AUTH_ADMIN_PASSWORD']}".encode())
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Basic {auth.decode()}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def ensure_user(username: str, password: str) -> str:
    if call("GET", "users/get", query={"username": username}) == 200:
        status = call("PATCH", "users/update-password", {"username": username, "password": password})
        action = "password reset"
    else:
        status = call("POST", "users/create", {"username": username, "password": password})
        action = "created"
    if status != 200:
        raise SystemExit(f"error: MLflow user {username}: HTTP {status} from {os.environ['MLFLOW_TRACKING_URI']}")
    return f"MLflow user {username} {action}"


def main() -> None:
    for role in ("PLATFORM", "APPROVER"):
        print(ensure_user(os.environ[f"MLFLOW_{role}_USER"], os.environ[f"MLFLOW_{role}_PASSWORD"]))


if __name__ == "__main__":
    sys.exit(main())
