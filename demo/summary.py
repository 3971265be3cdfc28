"""What `make demo` prints at its end: the row accounting, the promoted models with their audit trail, the scores
with their decision mix, what monitoring found and fired, and what the backtests found."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ml.dates import date_range


def monitoring(data_url: str, history_url: str, outbox: Path, drift_run: dict[str, str],
               datasets: tuple[str, ...]) -> None:
    """What stability monitoring found and what it fired: lights per dataset, mails, the retraining."""
    import email
    import email.policy

    from ml.governance.candidate import candidate_of_run
    from ml.monitor.history import History
    from ml.storage import Storage
    from ml.versions import version_key

    history = History.open(history_url)
    for dataset in datasets:
        rows = history.read(dataset, statistics=["overall"], feature="")
        version = max((r.model_version for r in rows), key=version_key)  # this run's champion
        rows = [r for r in rows if r.model_version == version]
        for kind in ("day", "week", "month"):
            lights = [r.light for r in rows if r.window_kind == kind]
            counts = ", ".join(f"{lights.count(light)} {light}" for light in ("green", "amber", "red", "too few rows")
                               if lights.count(light))
            print(f"  {dataset} (model v{version}): {len(lights)} {kind} window(s): {counts or 'none'}")
        red = [r.window_start.isoformat() for r in rows if r.window_kind == "day" and r.light == "red"]
        if red:
            print(f"    red days: {', '.join(red)}")
        ratios = [r for r in history.read(dataset, statistics=["group_impact_ratio"], model_version=version)
                  if r.window_kind == "month" and r.value is not None and not r.detail.get("is_reference")]
        if ratios:  # fair lending: the month's adverse impact ratio of each group
            print("    fair lending (month): " + ", ".join(
                f"{r.feature} {r.value:.2f} [{r.detail['low']:.2f}, {r.detail['high']:.2f}] {r.light}" for r in ratios))
    for path in sorted(outbox.glob("*.eml")):
        subject = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"]
        if " stability " in subject or " fair lending " in subject:
            print(f"  mailed: {subject}")
    storage = Storage(data_url)
    dataset = drift_run["dag_id"].removeprefix("retrain_")
    candidate = candidate_of_run(storage, dataset, drift_run["run_id"])
    print(f"  retraining requested by drift: {drift_run['dag_id']} run {drift_run['run_id']} registered "
          f"{candidate.model_name} version {candidate.version}, waiting for approval; its report "
          f"{storage.url(candidate.report_key)} names the trigger: {candidate.trigger}")


def backtests(history_url: str, outbox: Path, dataset: str, as_ofs: list[dt.date]) -> None:
    """Per as-of date: what was judged on matured outcomes, or what the label-free estimate says."""
    import email
    import email.policy

    from ml.monitor import backtest_history
    from ml.monitor.history import History

    history = History.open(history_url)
    for as_of in as_ofs:
        window = history.read(dataset, window_kind=backtest_history.WINDOW, window_starts=[as_of], feature="",
                              statistics=["rows", "auc", "default_rate", "mean_pd", "alert"])
        by = {(r.model_version, r.statistic): r for r in window}
        versions = sorted({v for v, _ in by if v})
        if versions:
            for v in versions:
                auc = by[(v, "auc")]
                print(f"  {dataset} as of {as_of}, version {v}: {by[(v, 'rows')].value:,.0f} matured rows, AUC "
                      f"{auc.value:.4f} [{auc.detail['auc_low']:.4f}, {auc.detail['auc_high']:.4f}], default rate "
                      f"{by[(v, 'default_rate')].value:.2%} vs mean PD {by[(v, 'mean_pd')].value:.2%}, "
                      f"{by[(v, 'alert')].value:.0f} alert(s)")
        else:
            estimates = [r for r in history.read(dataset, window_kind=backtest_history.WEEK, statistics=["estimated_auc"])
                         if r.detail.get("as_of") == as_of.isoformat()]
            print(f"  {dataset} as of {as_of}: nothing matured yet; label-free estimate of AUC by week: "
                  + ", ".join(f"{r.detail['week']} {r.value:.4f}" for r in estimates))
        reviewers = {r.statistic: r for r in history.read(dataset, window_kind=backtest_history.WINDOW, window_starts=[as_of],
                                                          feature="all", model_version="")}
        if "override_rate" in reviewers:
            share, rate = reviewers["review_decided_share"], reviewers["override_rate"]
            print(f"  {dataset} as of {as_of}: reviewers decided {share.detail['decided']} of {share.detail['sent']} "
                  f"rows sent to review, overriding the model on "
                  + ("no decided review" if rate.value is None else f"{rate.value:.1%}")
                  + (f" ({rate.light})" if rate.light else ""))
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if " backtest as of " in message["Subject"]:
            names = [a.get_filename() for a in message.iter_attachments()]
            print(f"  mailed: {message['Subject']} ({', '.join(names)})")


def scores(data_url: str, dataset: str, start: dt.date, end: dt.date) -> None:
    from ml import layout
    from ml.scoring.manifests import read_score_manifest
    from ml.storage import Storage

    storage = Storage(data_url)
    print(f"\n  {dataset}  (date: rows scored, approve / review / decline, rows matching a hard rule, model version, "
          "the most frequent first reasons)")
    for day in date_range(start, end):
        keys = storage.list_files(layout.score_manifests(dataset, day))
        for key in keys:
            m = read_score_manifest(storage, key)
            d = m.decisions
            first = sorted((m.reasons.first if m.reasons else {}).items(), key=lambda kv: -kv[1])[:3]
            print(f"    {day}: {m.rows_scored:>6}, {d['approve']:>5} / {d['review']:>5} / {d['decline']:>5}, "
                  f"{sum(m.hard_rules.values()):>4}, v{m.model_version}, "
                  + (", ".join(f"{code} {n}" for code, n in first) or "-"))
        if not keys:
            print(f"    {day}: not scored")


def promotion(tracking_uri: str, dataset: str) -> None:
    import warnings

    from mlflow import MlflowClient

    from ml.governance.registry import model_name

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = model_name(dataset)
    champion = client.get_model_version_by_alias(name, "champion")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # reading the deprecated stage field on purpose
        stage = champion.current_stage
    tags = champion.tags
    print(f"  {name} version {champion.version}: stage {stage}, alias champion; approved by "
          f"{tags.get('riskops.approved_by')} at {tags.get('riskops.promoted_at')}; "
          f"previous champion {tags.get('riskops.previous_champion')}; report sha256 "
          f"{tags.get('riskops.report_sha256', '')[:12]}...")
    from ml.governance.halt import champion_line

    print(f"    champion history (python -m ml champions --dataset {dataset}): {champion_line(client, name)}")


def accounting(data_url: str, days: dict[str, list[dt.date]]) -> None:
    from ml.data.preprocess import read_manifest
    from ml.storage import Storage

    storage = Storage(data_url)
    for dataset, business in days.items():
        print(f"\n  {dataset}  (business date: rows landed / clean / quarantined)")
        totals = [0, 0, 0]
        for day in business:
            m = read_manifest(storage, dataset, day)
            if m is None:
                print(f"    {day}: no manifest")
            else:
                counts = [m.rows_in, m.rows_clean, m.rows_quarantined]
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
                print(f"    {day}: {counts[0]:>6} / {counts[1]:>6} / {counts[2]:>4}")
        print(f"    total     : {totals[0]:>6} / {totals[1]:>6} / {totals[2]:>4}")
