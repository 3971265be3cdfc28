"""Every benchmark, each in a fresh process, then one table of all their figures (`make bench`); exits non-zero
when a goal fails or a bench does not run.

Run: .venv/bin/python bench/run.py [--tiny] [NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.table import MARK, Figure, failed, figure, loads, render  # noqa: E402

# bench/<name>.py, each with figures(tiny) and bench.table.main (see bench/table.py)
BENCHES = ("score", "stability", "backtest", "train_gmsc", "decisions")


def run_bench(name: str, tiny: bool = False, echo: bool = True) -> list[Figure]:
    """The figures of one bench run in a fresh process (its own output echoed as it comes); a bench that fails
    is one failing figure with its last lines."""
    command = [sys.executable, str(REPO / "bench" / f"{name}.py"), "--json", *(["--tiny"] if tiny else [])]
    lines: list[str] = []
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if echo and not line.startswith(MARK):
                print(f"  [{name}] {line}", end="", flush=True)
    found = [line for line in lines if line.startswith(MARK)]
    if proc.returncode not in (0, 1) or not found:
        tail = " | ".join(lines[-3:])
        return [figure(name, "the bench runs", None, goal=">= 1", note=f"exit {proc.returncode}: {tail}")]
    return loads(found[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="each bench at its tiny size (goals not judged)")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these ({', '.join(BENCHES)})")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        parser.error(f"no bench {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    figures: list[Figure] = []
    for name in args.names or BENCHES:
        started = time.perf_counter()
        print(f"{name}: ...", flush=True)
        figures += run_bench(name, args.tiny)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    print()
    print(render(figures, judged=not args.tiny))
    bad = failed(figures)
    if bad and not args.tiny:
        print(f"\n{len(bad)} goal(s) not met: {', '.join(f'{f.bench}: {f.name}' for f in bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
