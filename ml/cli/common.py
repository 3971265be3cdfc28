"""What every command shares: the registry of steps, the parser, the business-date arguments, the settings
and the dataset's context (storage and spec), and an MLflow client."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml.config import Settings, TrainConfig
from ml.dates import date_range
from ml.errors import RiskopsError

if TYPE_CHECKING:
    from ml.spec import DatasetSpec
    from ml.storage import Storage

Command = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Step:
    name: str
    help: str
    run: Command
    arguments: Callable[[argparse.ArgumentParser], None]
    dataset: bool


STEPS: list[Step] = []


def step(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
         dataset: bool = True) -> Callable[[Command], Command]:
    """Register a command: its name, one-line help and a function adding its own arguments."""
    def register(run: Command) -> Command:
        STEPS.append(Step(name, help, run, arguments, dataset))
        return run
    return register


# ----------------------------------------------------------------------------------------- arguments

def date_arg(text: str) -> dt.date:
    """A YYYY-MM-DD argument."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from exc


def _text(text: str) -> str:
    """A free-text value (approver, note, reason): anything, but not blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text


class Parser(argparse.ArgumentParser):
    """argparse, except that a free-text option (`free_text`) takes the next argument as its value whatever it
    looks like: argparse reads `--reason "--worse"` or `--reason "-0.4pt"` as an option without a value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.free_text: set[str] = set()

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]  # typeshed: overloads
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        joined, i = [], 0
        while i < len(given):
            if given[i] in self.free_text and i + 1 < len(given):
                joined.append(f"{given[i]}={given[i + 1]}")  # `--flag=value` is always one value
                i += 2
            else:
                joined.append(given[i])
                i += 1
        return super().parse_known_args(joined, namespace)


def free_text(p: argparse.ArgumentParser, flag: str, required: bool = False, blank: bool = True,
              help: str = "") -> None:
    """An option taking any text as its value, even text starting with '-'; `blank=False` refuses blank text."""
    p.add_argument(flag, required=required, default="", type=str if blank else _text, help=help or None)
    if isinstance(p, Parser):
        p.free_text.add(flag)


def window(p: argparse.ArgumentParser, single: bool = True) -> None:
    """The business-date arguments: --date D (repeatable), or --start/--end for a window (both ends included)."""
    if single:
        p.add_argument("--date", type=date_arg, action="append", help="business date (repeat for several)")
    p.add_argument("--start", type=date_arg, help="first date of a window")
    p.add_argument("--end", type=date_arg, help="last date of a window (inclusive)")


def days(args: argparse.Namespace) -> list[dt.date]:
    """The business dates that `window()` arguments name, in order; a clear error for any other combination."""
    single = getattr(args, "date", None)
    if single and (args.start or args.end):
        raise RiskopsError("give either --date or --start/--end, not both")
    if single:
        return sorted(set(single))
    if not (args.start and args.end):
        raise RiskopsError("give --date, or --start and --end for a window" if hasattr(args, "date")
                           else "give --start and --end")
    if args.end < args.start:
        raise RiskopsError(f"--end {args.end} is before --start {args.start}")
    return date_range(args.start, args.end)


def business_dates(args: argparse.Namespace, spec: "DatasetSpec") -> list[dt.date]:
    """The business dates `window()` arguments name, in the dataset's calendar: a window keeps its business
    days; a date named with --date that is not one is an error."""
    from ml.dates import is_business_day

    dates = days(args)
    named = [d for d in dates if not is_business_day(spec, d)] if getattr(args, "date", None) else []
    if named:
        raise RiskopsError(f"{named[0]} is not a business day of '{spec.name}' (calendar: {spec.calendar.days}, "
                           f"{len(spec.calendar.holidays)} holidays)")
    business = [d for d in dates if is_business_day(spec, d)]
    if not business:
        raise RiskopsError(f"no business day of '{spec.name}' from {dates[0]} to {dates[-1]}")
    return business


def _bool(text: str) -> bool:
    if text.strip().lower() in ("true", "yes", "1"):
        return True
    if text.strip().lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is not true or false")


def train_options(p: argparse.ArgumentParser) -> None:
    """One option per user-set TrainConfig field, with its default, help and choices."""
    for f in TrainConfig.options():
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):  # `--flag` alone, or `--flag=false` (what a templated DAG passes)
            p.add_argument(flag, nargs="?", const=True, default=f.default, type=_bool, help=f.metadata["help"])
        else:
            p.add_argument(flag, type=type(f.default), default=f.default, choices=f.metadata.get("choices"),
                           help=f"{f.metadata['help']} (default {f.default})")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training options of the command line as a TrainConfig; a bad value is a user error."""
    try:
        return TrainConfig(**{f.name: getattr(args, f.name) for f in TrainConfig.options()})
    except ValueError as exc:
        raise RiskopsError(str(exc)) from exc


def read_settings() -> Settings:
    """The environment's settings; a bad value (RISKOPS_APPROVAL_QUORUM=two) is a user error."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise RiskopsError(str(exc)) from exc


def context(args: argparse.Namespace) -> tuple[Settings, "Storage", "DatasetSpec"]:
    from ml.spec import get_spec
    from ml.storage import Storage

    settings = read_settings()
    return settings, Storage(settings.data_url), get_spec(settings.specs_dir, args.dataset)


def mlflow_client(settings: Settings) -> Any:
    """An MLflow client on the configured tracking and registry URI."""
    from mlflow import MlflowClient

    from ml.config import configure_mlflow

    configure_mlflow(settings)
    return MlflowClient()
