"""The Airflow image's HEALTHCHECK: asks the component this container runs (the command of PID 1) whether it
is healthy. Exit 0 healthy, 1 not; one line on stdout says why (`docker inspect` shows it).

api-server: its health endpoint; scheduler: its health-check server (AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK);
dag-processor, triggerer: `airflow jobs check` for their job on this host; "celery worker": its log
server answers. Anything else (a one-shot
command, `--help`) has nothing to serve and counts as healthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

JOBS = {"dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}


def component() -> str:
    argv = Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")
    if "celery" in argv and "worker" in argv:
        return "celery worker"
    return next((a for a in argv if a in {"api-server", "scheduler", *JOBS}), "")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def main() -> int:
    name = component()
    if name == "api-server":
        port = os.environ.get("AIRFLOW__API__PORT", "8080")
        ok = http_ok(f"http://localhost:{port}/api/v2/monitor/health")
    elif name == "scheduler":
        port = os.environ.get("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", "8974")
        ok = http_ok(f"http://localhost:{port}/health")
    elif name == "celery worker":
        # its log server answers (any HTTP status: it wants a token): cheap, where Celery's own `inspect ping`
        # imports Airflow and took over 30 s on a loaded machine; a worker that hangs is caught by the
        # scheduler's task heartbeat timeout instead
        port = os.environ.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "8793")
        ok = http_answers(f"http://localhost:{port}/")
    elif name in JOBS:
        ok = subprocess.run(["airflow", "jobs", "check", "--job-type", JOBS[name], "--local"],
                            capture_output=True).returncode == 0
    else:
        print("no Airflow component runs here")
        return 0
    print(f"{name} {'healthy' if ok else 'not healthy'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
