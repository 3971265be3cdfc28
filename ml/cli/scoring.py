"""Scoring curated days, slices of a day, or an analyst's file."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from ml.cli.common import (
    business_dates,
    context,
    mlflow_client,
    step,
    window,
)

if TYPE_CHECKING:
    from ml.governance.halt import Halt
    from ml.scoring import ondemand
    from ml.spec import DatasetSpec
    from ml.storage import Storage



def _score_args(p: argparse.ArgumentParser) -> None:
    window(p)
    p.add_argument("--model-version", help="score with this registered version instead of the champion")
    p.add_argument("--partition", type=int, help="score only this slice (0-based) into staging")
    p.add_argument("--partitions", type=int, default=1, help="number of slices of the day")
    p.add_argument("--commit", action="store_true", help="merge the scored slices and publish the day")
    p.add_argument("--input", help="score this raw file of the on-demand area (a name under <RISKOPS_DATA>/ondemand/, "
                                   "validated by the dataset spec) instead of a day")
    p.add_argument("--output", help="where --input's scores go, under ondemand/ too (.parquet or .csv; default "
                                    "<input>.scores.parquet)")
    p.add_argument("--run-key", help="name of the calling run (the score DAG's run id): a day this run already "
                                     "committed with the same version is not scored again (a retry scores only "
                                     "the days that failed)")


def _print_file(storage: "Storage", result: "ondemand.Scored") -> int:
    print(f"scored {result.rows} rows of {storage.url(result.source)} -> {storage.url(result.target)}")
    if result.rejected_rows:
        print(f"{result.rejected_rows} rows failed validation and were not scored -> {storage.url(result.rejected)}")
    return 0


def _print_failure(day: dt.date, dataset: str, error: Exception) -> None:
    print(f"error: {day} {dataset}: {error}", file=sys.stderr, flush=True)


@step("score", "score curated days (or an analyst's file) with the Production model", _score_args)
def cmd_score(args: argparse.Namespace) -> int:
    from ml import layout
    from ml.reasons import Dictionary
    from ml.scoring import fallback, ondemand, score
    from ml.scoring.run import each_day

    settings, storage, spec = context(args)
    dates = [] if args.input else business_dates(args, spec)
    source, target = ondemand.paths(storage, args.input, args.output) if args.input else ("", "")  # refused early
    if args.model_version:
        layout.model_version(args.model_version)  # user input: refused before MLflow is asked
    mlflow_client(settings)
    halt = fallback.halt_of(spec.name)  # a halted model is never loaded: the fallback policy decides, or nothing
    if halt is not None:
        return _score_halted(storage, spec, dates, halt, args, source, target)
    pinned = score.resolve_model(spec.name, args.model_version)
    warning = Dictionary.of(spec, ()).warning(spec.name)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.input:
        return _print_file(storage, ondemand.score(storage, source, target,
                                                   lambda data, name: score.score_file(data, name, spec, pinned)))
    if args.partition is not None:
        for day in dates:
            rows = score.score_partition(storage, spec, day, pinned, args.partition, args.partitions)
            print(f"{day} {spec.name}: partition {args.partition}/{args.partitions} scored {rows} rows "
                  f"with {pinned.name} v{pinned.version}", flush=True)
        return 0
    outcomes = score.score_days(storage, spec, dates, pinned, args.partitions if args.commit else None,
                                run_key=args.run_key)
    for day, m, error in each_day(outcomes, dates, "scored"):
        if error is not None:
            _print_failure(day, spec.name, error)
        elif m is None:
            print(f"{day} {spec.name}: already committed by this run with v{pinned.version}", flush=True)
        else:
            print(f"{day} {spec.name}: scored {m.rows_scored} of {m.rows_in} rows with {pinned.name} "
                  f"v{pinned.version} ({m.mix()}) -> {storage.url(m.scores)}", flush=True)
    return 0


def _score_halted(storage: "Storage", spec: "DatasetSpec", dates: list[dt.date], halt: "Halt",
                  args: argparse.Namespace, source: str, target: str) -> int:
    """Scoring while the model is halted: the fallback policy decides each day (or the file), or the refusal."""
    from ml.scoring import fallback, ondemand
    from ml.scoring.run import each_day

    policy = fallback.fallback_policy(spec, halt).describe()
    if args.input:
        return _print_file(storage, ondemand.score(storage, source, target,
                                                   lambda data, name: fallback.fallback_file(data, name, spec, halt)))
    if args.partition is not None:  # no model to spread over slices: the commit decides the whole day
        print(f"{halt.text()}; partition {args.partition}/{args.partitions} has nothing to score: the commit "
              f"decides the day by the fallback policy ({policy})", flush=True)
        return 0
    for day, m, error in each_day(fallback.score_days(storage, spec, dates, halt, args.run_key), dates, "decided"):
        if error is not None:
            _print_failure(day, spec.name, error)
        elif m is not None:
            print(f"{day} {spec.name}: {halt.text()}; {m.rows_scored} of {m.rows_in} rows decided by the "
                  f"fallback policy ({policy}: {m.mix()}) -> {storage.url(m.scores)}", flush=True)
    return 0
