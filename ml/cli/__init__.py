"""`python -m ml <step>`: every pipeline step as a command; this is also the container entrypoint.

Each step takes the dataset and the business date (or a window) and is idempotent. A step is a function
registered with `@step`; it imports what it needs when it runs, so `--help` stays fast.
User errors print one clear line to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ml.cli import data, governance, model, monitor, reasons, scoring, serving
from ml.cli.common import STEPS, Parser
from ml.errors import RiskopsError

# each module registers its steps as it is imported; `--help` lists them family by family, in this order
FAMILIES = [module.__name__ for module in (data, model, governance, scoring, serving, monitor, reasons)]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m ml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for s in sorted(STEPS, key=lambda s: FAMILIES.index(s.run.__module__)):
        p = commands.add_parser(s.name, help=s.help, description=s.help)
        p.set_defaults(run=s.run)
        if s.dataset:
            p.add_argument("--dataset", required=True, help="dataset name (a spec file in RISKOPS_SPECS)")
        s.arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except RiskopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
