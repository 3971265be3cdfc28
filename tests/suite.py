"""`make test`: lint (ruff, then mypy), the tests not marked slow on both cores, then the slow test files (each
starts a whole Airflow) in two streams side by side: the demo, browser and stack tests in one, every other slow
file one after the other in the second (they mostly wait on Airflow's scheduler, while the demo keeps the cores
busy; the two streams take about as long, FIRST_STREAM says which files go first); each file's
output is printed when it ends, so the logs do not interleave. Every part runs even if an earlier one fails, and
the wall time of each part is printed at the end, so a regression shows in every CI log. Exit status: 0 when
every part passed. `python tests/suite.py lint` (`make lint`) runs the lint part alone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PYTEST = [sys.executable, "-m", "pytest"]
# Every Python directory of the tree; mypy's files (ml/, reports/) and both rule sets are in pyproject.toml.
TREE = ["ml", "reports", "plugins", "dags", "demo", "tests", "bench", "docker"]
# the demo (~390 s), the browser test (~130 s) and the stack without Docker (~135 s) against the retraining
# approvals (~640 s) and the demo's UI (~20 s), as measured in CI on 2026-12-08: the streams end about together
FIRST_STREAM = ("tests/test_demo.py", "tests/browser/test_approver_day.py", "tests/test_stack.py")
LINT = [[sys.executable, "-m", "ruff", "check", *TREE], [sys.executable, "-m", "mypy"]]


def slow_files() -> list[str]:
    """The test files holding tests marked slow, in collection order."""
    out = subprocess.run([*PYTEST, "-m", "slow", "--collect-only", "-q"], capture_output=True, text=True, check=True)
    return list(dict.fromkeys(line.split("::")[0] for line in out.stdout.splitlines() if "::" in line))


def run_all(commands: list[list[str]]) -> int:
    """Run each command even if one fails; the first failing status, or 0."""
    statuses = [subprocess.run(command).returncode for command in commands]
    return next((status for status in statuses if status), 0)


def run_part(name: str, commands: list[list[str]]) -> tuple[str, float, int]:
    """One part, its output straight to ours: (name, wall seconds, status)."""
    print(f"\n=== {name}", flush=True)
    started = time.monotonic()
    status = run_all(commands)
    return name, time.monotonic() - started, status


def run_slow_file(path: str, env: dict[str, str]) -> tuple[str, float, int]:
    """One slow file, its output kept until it ends and then printed in one piece."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        status = subprocess.run([*PYTEST, "-m", "slow", path], stdout=log, stderr=subprocess.STDOUT,
                                env=env).returncode
        log.seek(0)
        print(f"\n=== {path}\n{log.read()}", flush=True)
    return path, time.monotonic() - started, status


def run_stream(stream: int, paths: list[str]) -> list[tuple[str, float, int]]:
    # the Airflows of two streams run side by side: each stream's log servers (worker, triggerer) get their
    # own ports, which every test's Airflow inherits from the environment
    env = {**os.environ, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(8793 + 10_000 * stream),
           "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(8794 + 10_000 * stream)}
    return [run_slow_file(path, env) for path in paths]


def main(only_lint: bool = False) -> int:
    started = time.monotonic()
    results = [run_part("lint", LINT)]
    if not only_lint:
        results.append(run_part("tests not marked slow (2 workers)",
                                [[*PYTEST, "-m", "not slow", "-n", "2", "--dist", "loadfile"]]))
        slow = slow_files()
        first = [p for p in slow if p.endswith(FIRST_STREAM)]
        with ThreadPoolExecutor(2) as pool:
            streams = list(pool.map(run_stream, [0, 1], [first, [p for p in slow if p not in first]]))
        results += [r for stream in streams for r in stream]
    print("\nWall time of each part (the slow files in two streams side by side):")
    for name, seconds, status in results:
        print(f"  {seconds:7.0f} s  {'passed' if status == 0 else f'FAILED ({status})'}  {name}")
    print(f"  {time.monotonic() - started:7.0f} s  in all (wall)")
    return max(status for _, _, status in results)


if __name__ == "__main__":
    sys.exit(main(only_lint=sys.argv[1:] == ["lint"]))
