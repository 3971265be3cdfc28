"""What every benchmark reports, one row per figure: the figure, its goal, today's value, pass or fail, and when
it was measured (UTC) at which load average (1 minute, `os.getloadavg`).

A bench is a script `bench/<name>.py` with a function `figures(tiny: bool) -> list[Figure]` and this module's
`main` as its entry point (`--tiny`: a size small enough for the test suite, which says nothing about speed, so
goals are not judged there; `--json`: the figures as one line for `bench/run.py`). To add one, write it so and
add its name to `bench/run.py`'s BENCHES.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "FIGURES "  # the line of --json output that holds the figures (a bench prints its detail before it)
TINY_SKIPPED = "not run at tiny size"


@dataclass(frozen=True)
class Figure:
    bench: str
    name: str
    value: float | None  # None: not measured, and `note` says why
    unit: str = ""
    goal: str = ""  # ">= 50", "<= 30", or "" for a figure kept for the record
    load: float = 0.0
    at: str = ""  # UTC, to the minute
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """Whether the value meets the goal; None without a goal. A figure not measured fails its goal."""
        if not self.goal:
            return None
        if self.value is None or math.isnan(self.value):
            return False
        op, bound = self.goal.split()
        return self.value >= float(bound) if op == ">=" else self.value <= float(bound)


def figure(bench: str, name: str, value: float | None, unit: str = "", goal: str = "", note: str = "",
           load: float | None = None) -> Figure:
    """A figure measured just now (the load average now, unless the measurement's own is given)."""
    if goal and (len(goal.split()) != 2 or goal.split()[0] not in (">=", "<=")):
        raise ValueError(f"a goal is '>= N' or '<= N', not {goal!r}")
    return Figure(bench, name, None if value is None else float(value), unit, goal,
                  round(os.getloadavg()[0] if load is None else load, 2),
                  dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), note)


def _value(f: Figure) -> str:
    if f.value is None:
        return "-"
    digits = 3 if abs(f.value) < 10 else 1
    return f"{f.value:,.{digits}f}{' ' + f.unit if f.unit else ''}"


def render(figures: Sequence[Figure], judged: bool = True) -> str:
    """The figures as one text table (pass/fail only when `judged`: a tiny run is not)."""
    rows = [("bench", "figure", "goal", "today", "pass", "measured (UTC)", "load", "note")]
    for f in figures:
        verdict = "" if not judged or f.passed is None else "pass" if f.passed else "FAIL"
        rows.append((f.bench, f.name, f.goal, _value(f), verdict, f.at, f"{f.load:.2f}", f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def failed(figures: Sequence[Figure]) -> list[Figure]:
    return [f for f in figures if f.passed is False]


def dumps(figures: Sequence[Figure]) -> str:
    return MARK + json.dumps([dataclasses.asdict(f) for f in figures])


def loads(line: str) -> list[Figure]:
    return [Figure(**f) for f in json.loads(line[len(MARK):])]


def venv_python(name: str) -> Path:
    """The interpreter of a compared tool's own environment, bench/.venv-<name>, made on first use from
    bench/requirements-<name>.txt (the tool needs versions the lock does not have)."""
    venv = HERE / f".venv-{name}"
    python = venv / "bin" / "python"
    if not python.exists():
        import subprocess

        print(f"making {venv} from bench/requirements-{name}.txt (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / f"requirements-{name}.txt")],
                       check=True)
    return python


def main(figures: Callable[..., list[Figure]], parser: argparse.ArgumentParser,
         argv: Sequence[str] | None = None) -> int:
    """A bench's entry point: its options (`parser`, which gets --tiny and --json here) go to `figures` as keyword
    arguments; prints the figures (the table, or --json) and returns non-zero when a goal fails (not --tiny)."""
    parser.add_argument("--tiny", action="store_true", help="a tiny size, to check that the bench runs")
    parser.add_argument("--json", action="store_true", help=f"print the figures as one line starting {MARK!r}")
    args = vars(parser.parse_args(argv))
    as_json = args.pop("json")
    result = figures(**args)
    print(dumps(result) if as_json else render(result, judged=not args["tiny"]), flush=True)
    return 1 if failed(result) and not args["tiny"] else 0
