"""`make test`: lint (ruff, then mypy), the tests not marked slow on both cores, then each slow test file on its
own (each starts a whole Airflow); every part runs even if an earlier one fails, and the wall time of each part
is printed at the end, so a regression shows in every CI log. Exit status: 0 when every part passed.
`python tests/suite.py lint` (`make lint`) runs the lint part alone."""

from __future__ import annotations

import subprocess
import sys
import time

PYTEST = [sys.executable, "-m", "pytest"]
# Every Python directory of the tree; mypy's files (ml/, reports/) and both rule sets are in pyproject.toml.
TREE = ["ml", "reports", "plugins", "dags", "demo", "tests", "bench", "docker"]
LINT = [[sys.executable, "-m", "ruff", "check", *TREE], [sys.executable, "-m", "mypy"]]


def slow_files() -> list[str]:
    """The test files holding tests marked slow, in collection order."""
    out = subprocess.run([*PYTEST, "-m", "slow", "--collect-only", "-q"], capture_output=True, text=True, check=True)
    return list(dict.fromkeys(line.split("::")[0] for line in out.stdout.splitlines() if "::" in line))


def run_all(commands: list[list[str]]) -> int:
    """Run each command even if one fails; the first failing status, or 0."""
    statuses = [subprocess.run(command).returncode for command in commands]
    return next((status for status in statuses if status), 0)


def main(only_lint: bool = False) -> int:
    parts = [("lint", LINT)]
    if not only_lint:
        parts += [("tests not marked slow (2 workers)", [[*PYTEST, "-m", "not slow", "-n", "2", "--dist", "loadfile"]])]
        parts += [(path, [[*PYTEST, "-m", "slow", path]]) for path in slow_files()]
    results = []
    for name, commands in parts:
        print(f"\n=== {name}", flush=True)
        started = time.monotonic()
        status = run_all(commands)
        results.append((name, time.monotonic() - started, status))
    print("\nWall time of each part:")
    for name, seconds, status in results:
        print(f"  {seconds:7.0f} s  {'passed' if status == 0 else f'FAILED ({status})'}  {name}")
    print(f"  {sum(s for _, s, _ in results):7.0f} s  in all")
    return max(status for _, _, status in results)


if __name__ == "__main__":
    sys.exit(main(only_lint=sys.argv[1:] == ["lint"]))
