"""Training a candidate."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ml.cli.common import (
    context,
    date_arg,
    free_text,
    mlflow_client,
    step,
    train_config,
    train_options,
)

if TYPE_CHECKING:
    pass



def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=date_arg, required=True, help="business date: only labels matured by then are used")
    train_options(p)
    p.add_argument("--run-key", help="name of the calling run (the retrain DAG's run id); its next tasks find "
                                     "the registered version by it (default: as_of=<date>)")
    free_text(p, "--trigger", help="why this retraining runs, when monitoring requested it (drift); shown on the "
                                   "candidate report's first page")
    free_text(p, "--trained-by", help="who trained it (the retrain DAG passes whoever triggered the run); tagged "
                                      "on the version: with RISKOPS_SEPARATE_DUTIES=on they may not approve it")


@step("train", "train a candidate, compare with the champion, register it and render its report", _train_args)
def cmd_train(args: argparse.Namespace) -> int:
    from ml.retraining.retrain import retrain

    settings, storage, spec = context(args)
    config = train_config(args)
    mlflow_client(settings)
    summary = retrain(storage, spec, args.as_of, config, settings.artifact_root, run_key=args.run_key,
                      trigger=args.trigger.strip() or None, trained_by=args.trained_by.strip() or None,
                      quorum=spec.oversight.quorum(settings.approval_quorum))
    m = summary.metrics
    for gap in summary.gaps:
        print(f"warning: {gap}", file=sys.stderr)
    print(f"{summary.model_name} version {summary.version} registered (Staging, alias challenger): "
          f"{summary.verdict}; out-of-time AUC {m.auc:.4f} (95% CI {m.auc_low:.4f} to {m.auc_high:.4f}, "
          f"{m.n} test rows, {m.positives} positive), KS {m.ks:.4f}, threshold {summary.threshold:.4f}")
    print(f"verdict: {summary.verdict_reason}")
    print(f"report: {storage.url(summary.report_key)} (sha256 {summary.report_sha256[:12]}...)")
    print(f"technical file: {storage.url(str(summary.technical_file_key))} "
          f"(sha256 {str(summary.technical_file_sha256)[:12]}...)")
    if summary.superseded:
        print(f"superseded the waiting candidate(s): version {', '.join(summary.superseded)}")
    return 0
