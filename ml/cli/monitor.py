"""Commands of monitoring: stability, the history, the weekly backtest and the reviewers' decisions."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ml.cli.common import (
    context,
    date_arg,
    days,
    mlflow_client,
    step,
    window,
)

if TYPE_CHECKING:
    pass



def _stability_args(p: argparse.ArgumentParser) -> None:
    window(p)
    p.add_argument("--model-version", action="append", help="monitor only this version's scores (repeatable; "
                                                             "default: every version that scored the day)")
    p.add_argument("--run-key", help="name of the calling run (the stability DAG's run id): decides the alert "
                                     "and the retraining request and leaves them for the run's next tasks")


@step("stability", "PSI/CSI, KS and JS of scored days, their weeks and months, into the history", _stability_args)
def cmd_stability(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry
    from ml.monitor.check import check_stability
    from ml.monitor.history import History
    from ml.monitor.stability import Reference

    settings, storage, spec = context(args)
    client = mlflow_client(settings)
    name = registry.model_name(spec.name)

    def reference(version: str) -> Reference:
        model = registry.load_model(client, name, version)
        return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical,
                            (model.meta.get("reasons") or {}).get("first"))

    summary = check_stability(storage, spec, days(args), History.open(settings.history_url), reference,
                              versions=args.model_version, run_key=args.run_key,
                              waiting=lambda: approvals.waiting_candidates(client, name))
    for w in summary["windows"]:
        psi = "-" if w["score_psi"] is None else f"{w['score_psi']:.4f}"
        if w.get("score_critical") is not None:
            psi += f" (critical {w['score_critical']:.4f})"
        print(f"{w['start']} {w['kind']:<5} v{w['model_version']}: {w['rows']:>9,} rows, score PSI {psi} "
              f"{w['score_light'] or ''}; red: {', '.join(w['red']) or '-'}; amber: {', '.join(w['amber']) or '-'}"
              f" -> {w['light']}", flush=True)
    for r in summary["reports"]:
        print(f"weekly report {r['week']}: {storage.url(r['key'])}")
    if summary["alert"]:
        print(f"alert for {len(summary['alert']['windows'])} window(s), to be mailed to the risk team: "
              f"{summary['alert']['subject']}")
    trigger = summary["trigger"]
    if trigger and trigger["status"] == "requested":
        print(f"retraining requested (as of {trigger['as_of']}): {trigger['reason']}")
    elif trigger:
        print(f"retraining not requested: candidate version(s) {', '.join(trigger['waiting'])} still waiting for "
              f"approval (recorded in the history); {trigger['reason']}")
    return 0


def _history_args(p: argparse.ArgumentParser) -> None:
    from ml.dates import BACKTEST_KINDS, WINDOW_KINDS

    p.add_argument("--feature", help="only this feature's rows")
    p.add_argument("--since", type=date_arg, help="only windows starting on or after this date")
    p.add_argument("--until", type=date_arg, help="only windows starting on or before this date")
    p.add_argument("--window", choices=(*WINDOW_KINDS, *BACKTEST_KINDS), help="only windows of this kind")
    p.add_argument("--statistic", action="append", help="only this statistic (repeatable), e.g. csi, score_psi")
    p.add_argument("--model-version", help="only this model version")
    p.add_argument("--csv", action="store_true", help="print CSV (with the JSON detail) instead of a table")


@step("history", "print the monitoring history of a dataset (stability and backtest statistics, alerts, triggers)",
      _history_args)
def cmd_history(args: argparse.Namespace) -> int:
    import pandas as pd

    from ml.monitor.history import History

    settings, _, spec = context(args)
    records = History.open(settings.history_url).read(
        spec.name, model_version=args.model_version, window_kind=args.window, statistics=args.statistic,
        feature=args.feature, since=args.since, until=args.until)
    columns = ["window_kind", "window_start", "model_version", "statistic", "feature", "value", "light"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} | {"detail": json.dumps(r.detail, sort_keys=True)}
                          for r in records], columns=[*columns, "detail"])
    if args.csv:
        print(frame.to_csv(index=False), end="")
    elif len(frame):
        print(frame[columns].to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4f}"))
    else:
        print(f"no history for {spec.name} with these filters")
    return 0


def _backtest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=date_arg, required=True, help="business date: outcomes known by then are judged")
    p.add_argument("--weeks", type=int, default=12,
                   help="ISO weeks judged up to the last matured day, and estimated up to the as-of date (default 12)")
    p.add_argument("--run-key", help="name of the calling run (the backtest DAG's run id): leaves the report's "
                                     "mail for the run's next task")


@step("backtest", "judge scores on matured outcomes by week and version, estimate the weeks not matured yet, "
      "render the PDF", _backtest_args)
def cmd_backtest(args: argparse.Namespace) -> int:
    from ml.monitor.history import History
    from ml.monitor.weekly_backtest import weekly_backtest

    settings, storage, spec = context(args)
    mlflow_client(settings)
    out = weekly_backtest(storage, spec, args.as_of, args.weeks, history=History.open(settings.history_url),
                          run_key=args.run_key)
    result = out["result"]
    for v in result.versions:
        p = v.performance
        print(f"{spec.name} version {v.version}, weeks {v.weeks[0]}..{v.weeks[-1]}: {p.rows} matured rows, "
              f"AUC {p.auc:.4f} [{p.auc_low:.4f}, {p.auc_high:.4f}], KS {p.ks:.4f}, default rate "
              f"{p.default_rate:.2%} vs mean PD {p.mean_pd:.2%}, {v.bands.rejected_bands} band(s) rejected by Jeffreys")
    for w in result.weeks:
        if w.rows_unmatured:
            e = w.estimate
            print(f"{w.week} version {w.version}: {w.rows_unmatured} rows not matured; estimated AUC "
                  f"{e.expected_auc:.4f} [{e.auc_low:.4f}, {e.auc_high:.4f}], default rate "
                  f"{e.expected_default_rate:.2%}")
    o = result.overrides
    if o is not None:
        rate = "-" if o.overall.decided == 0 else f"{o.overall.override_rate:.1%}"
        print(f"reviewers: {o.overall.decided} of the {o.overall.sent} rows sent to review decided, override rate "
              f"{rate} (reviews: {out['reviews']['accepted']} accepted, {out['reviews']['quarantined']} quarantined)")
    for line in result.notes + [f"ALERT {a}" for a in result.alerts]:
        print(line)
    print(f"history: {out['history_rows']} rows; MLflow: {out['mlflow_metrics']} weekly metrics on the versions' "
          "training runs")
    print(f"report: {storage.url(out['report_key'])}")
    return 0


def _reviews_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=date_arg, required=True, help="business date: the decisions made by then are read")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")


@step("reviews", "check the reviewers' decisions (reviews zone) against the scored rows: quarantine the bad ones, "
      "print the counts", _reviews_args)
def cmd_reviews(args: argparse.Namespace) -> int:
    from ml import layout
    from ml.monitor.reviews import check_reviews

    _, storage, spec = context(args)
    reviews = check_reviews(storage, spec, args.as_of)
    counts = reviews.counts()
    if args.json:
        print(json.dumps({"dataset": spec.name, "as_of": args.as_of.isoformat(), **counts,
                          "arrivals": [a.manifest(spec.name) for a in reviews.arrivals]}))
        return 0
    for a in reviews.arrivals:
        m = a.manifest(spec.name)
        reasons = ", ".join(f"{k} {v}" for k, v in m["reasons"].items())
        print(f"{m['decided_on']} {spec.name}: in {m['rows_in']}, accepted {m['rows_accepted']}, quarantined "
              f"{m['rows_quarantined']}" + (f" ({reasons})" if reasons else ""))
    decisions = ", ".join(f"{k} {v}" for k, v in counts["decisions"].items())
    bands = ", ".join(f"{k} {v}" for k, v in counts["by_band"].items())
    print(f"{spec.name} as of {args.as_of}: {counts['accepted'] - counts['superseded']} rows decided ({decisions}; "
          f"by band: {bands or 'none'}); {counts['superseded']} decisions superseded by a later one; "
          f"{counts['quarantined']} quarantined under {storage.url(layout.QUARANTINE + '/_' + layout.REVIEWS)}")
    return 0
