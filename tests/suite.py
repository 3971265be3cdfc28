"""`make test`: the tests not marked slow on both cores, then each slow test file on its own (each starts a
whole Airflow); every part runs even if an earlier one fails, and the wall time of each part is printed at
the end, so a regression shows in every CI log. Exit status: 0 when every part passed."""

from __future__ import annotations

import subprocess
import sys
import time

PYTEST = [sys.executable, "-m", "pytest"]


def slow_files() -> list[str]:
    """The test files holding tests marked slow, in collection order."""
    out = subprocess.run([*PYTEST, "-m", "slow", "--collect-only", "-q"], capture_output=True, text=True, check=True)
    return list(dict.fromkeys(line.split("::")[0] for line in out.stdout.splitlines() if "::" in line))


def main() -> int:
    parts = [("tests not marked slow (2 workers)", [*PYTEST, "-m", "not slow", "-n", "2", "--dist", "loadfile"])]
    parts += [(path, [*PYTEST, "-m", "slow", path]) for path in slow_files()]
    results = []
    for name, command in parts:
        print(f"\n=== {name}", flush=True)
        started = time.monotonic()
        status = subprocess.run(command).returncode
        results.append((name, time.monotonic() - started, status))
    print("\nWall time of each part:")
    for name, seconds, status in results:
        print(f"  {seconds:7.0f} s  {'passed' if status == 0 else f'FAILED ({status})'}  {name}")
    print(f"  {sum(s for _, s, _ in results):7.0f} s  in all")
    return max(status for _, _, status in results)


if __name__ == "__main__":
    sys.exit(main())
