"""The weekly backtest step: the facts of every version that scored (from the registry, models read as data),
the candidate waiting in Staging as a shadow challenger, the engine (`ml.monitor.backtest`) and the PDF for
the risk team, stored under `reports/backtest/<ds>/as_of=D.pdf`; the results go to the monitoring history
(`ml.monitor.backtest_history`) and each judged week's figures to MLflow, on the training run of the version
that scored the week (metrics `backtest.<figure>`, stamped with the week's Monday, so a re-run logs nothing
twice). The reviewers' decisions known by the as-of date are checked first (`ml.monitor.reviews`: their
quarantine and manifests written) and judged against the model (`ml.monitor.overrides`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from functools import partial
from typing import Any, ClassVar

from mlflow import MlflowClient
from mlflow.entities import Metric

from ml import layout, mails
from ml.governance import approvals, halt, registry
from ml.json_values import finite
from ml.model.riskmodel import RiskModel
from ml.monitor import backtest, backtest_history
from ml.monitor.backtest_results import BacktestResult
from ml.monitor.history import History
from ml.monitor.reviews import check_reviews
from ml.monitor.stability_run import Contract
from ml.spec import DatasetSpec
from ml.storage import Storage
from reports.backtest import BacktestReportData, render_backtest_report


def model_facts(client: MlflowClient, name: str, version: str, model: RiskModel) -> backtest.ModelFacts:
    """Threshold and beta from the model itself; the development AUC and rows per band recorded with it at
    training, or for older models the run's `test.auc` metric (no band rows: concentration not recorded)."""
    development = model.meta.get("development") or {}
    auc = development.get("auc")
    if auc is None:
        run_id = registry.get_version(client, name, version).run_id or ""  # "": MLflow says the run does not exist
        auc = registry.call(client, f"reading the run of {name} version {version}",
                            lambda: client.get_run(run_id)).data.metrics.get("test.auc")
    band_rows = development.get("band_rows")
    return backtest.ModelFacts(version, float(model.threshold), float(model.meta.get("beta", 2.0)),
                         None if auc is None or not math.isfinite(float(auc)) else float(auc),
                         {str(k): float(v) for k, v in band_rows.items()} if isinstance(band_rows, dict) else None)


def waiting_challenger(client: MlflowClient, name: str) -> str | None:
    """The candidate under alias `challenger` if it still waits for a decision and was trained by riskops."""
    mv = registry.alias_version(client, name, registry.CHALLENGER)
    if mv is None:
        return None
    tags = {k.removeprefix(registry.TAG): v for k, v in mv.tags.items() if k.startswith(registry.TAG)}
    return str(mv.version) if tags.get("status") == "candidate" and approvals.refusal(tags) is None else None


def report_data(result: BacktestResult, spec: DatasetSpec, model_name: str, now: dt.datetime,
                champion_line: str | None = None) -> BacktestReportData:
    data = result.to_dict()
    settings = spec.monitoring.backtest
    return BacktestReportData(
        dataset=result.dataset, model_name=model_name, as_of=result.as_of,
        maturity_lag_days=result.maturity_lag_days, last_matured_day=result.last_matured_day,
        judged_weeks=result.judged_weeks, estimated_weeks=result.estimated_weeks, alpha=settings.alpha,
        max_rejected_bands=settings.max_rejected_bands, weeks=data["weeks"], versions=data["versions"],
        percentiles=data["percentiles"], challenger=data["challenger"], alerts=result.alerts, notes=result.notes,
        generated_at=now.isoformat(timespec="seconds"), min_ratio=spec.fairness.min_ratio,
        min_group_rows=spec.fairness.min_group_rows, champion_line=champion_line, overrides=data["overrides"])


MLFLOW_FIGURES = ("rows", "default_rate", "mean_pd", "auc", "gini", "ks", "brier", "approval_rate",
                  "approved_default_rate")


def week_stamp(day: dt.date) -> tuple[int, int]:
    """How MLflow charts show the ISO week of `day`: (timestamp, step) = (its Monday 00:00 UTC in ms, ISO year
    * 100 + week), so the step axis reads 202637 for 2026-W37 and the time axis the week's first day."""
    year, week, weekday = day.isocalendar()
    monday = day - dt.timedelta(days=weekday - 1)
    return int(dt.datetime.combine(monday, dt.time(), dt.timezone.utc).timestamp() * 1000), year * 100 + week


def log_metrics(client: MlflowClient, name: str, result: BacktestResult) -> int:
    """Log each judged week's figures on the training run of the version that scored it; returns the count."""
    by_version: dict[str, list[Metric]] = {}
    for w in result.weeks:
        if w.performance is None:
            continue
        stamp, step = week_stamp(dt.date.fromisoformat(w.first_day))
        by_version.setdefault(w.version, []).extend(
            Metric(f"backtest.{figure}", float(getattr(w.performance, figure)), stamp, step)
            for figure in MLFLOW_FIGURES)
    for version, metrics in by_version.items():
        run_id = registry.get_version(client, name, version).run_id or ""  # "": MLflow says the run does not exist
        registry.call(client, f"logging the backtest of {name} version {version}",
                      partial(client.log_batch, run_id, metrics=metrics))
    return sum(len(m) for m in by_version.values())


class BacktestRun(Contract):
    """What a backtest DAG run leaves for its mail task (`layout.backtest_run`)."""

    CURRENT: ClassVar[int] = 2
    dataset: str
    as_of: str
    report_key: str
    report_sha256: str
    alerts: list[str]
    reviews: dict[str, Any]  # `ml.monitor.reviews.Reviews.counts`
    overrides: dict[str, Any] | None  # `ml.monitor.overrides.Overrides` as JSON (None: reviews not read)
    subject: str
    html: str


def weekly_backtest(storage: Storage, spec: DatasetSpec, as_of: dt.date, weeks: int = 12,
                    now: dt.datetime | None = None, history: History | None = None,
                    run_key: str | None = None) -> dict[str, Any]:
    """Backtest the dataset's scores as of `as_of` over `weeks` weeks, render and store the PDF, write the
    history (when given) and the weeks' figures in MLflow; returns the result, the report's key and SHA-256.
    With a `run_key` (the DAG's run id) the mail for the risk team is left for the run's next task."""
    now = now or dt.datetime.now(dt.timezone.utc)
    client = MlflowClient()
    name = registry.model_name(spec.name)
    plan = backtest.plan(storage, spec, as_of, weeks)
    facts = {v: model_facts(client, name, v, registry.load_model(client, name, v)) for v in plan.versions}
    shadow = waiting_challenger(client, name)
    challenger = None if shadow is None or shadow in facts else (shadow, registry.load_model(client, name, shadow))
    reviews = check_reviews(storage, spec, as_of)
    result = backtest.run(storage, spec, plan, facts, challenger, reviews.accepted)
    pdf = render_backtest_report(report_data(result, spec, name, now, halt.champion_line(client, name)))
    key, sha256, counts = layout.backtest_report(spec.name, as_of), hashlib.sha256(pdf).hexdigest(), reviews.counts()
    storage.write_bytes(key, pdf)
    out = {"result": result, "report_key": key, "report_sha256": sha256,
           "history_rows": 0, "mlflow_metrics": log_metrics(client, name, result), "reviews": counts}
    if history is not None:
        out["history_rows"] = backtest_history.write(history, result, spec.monitoring.backtest)
    if run_key is not None:  # the mail for the risk team, left for the run's next task
        mail = mails.backtest(result, storage.url(key))
        BacktestRun(version=BacktestRun.CURRENT, dataset=spec.name, as_of=as_of.isoformat(), report_key=key,
                    report_sha256=sha256, alerts=result.alerts, reviews=counts,
                    overrides=finite(result.to_dict()["overrides"]), subject=mail.subject,
                    html=mail.html).write(storage, layout.backtest_run(spec.name, run_key))
    return out
