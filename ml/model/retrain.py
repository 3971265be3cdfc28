"""The retraining step: train a candidate, compare it with the champion, log and register it in MLflow,
render the approvers' PDF, and store the candidate's summary and report under its version (write-once),
with a pointer from the retraining run to that version for the DAG's next tasks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from ml import bins, layout, metrics
from ml.config import Settings, TrainConfig
from ml.data.spec import DatasetSpec, Monitoring
from ml.model import decisions, registry
from ml.model.evaluate import Evaluation, evaluate
from ml.model.riskmodel import RiskModel
from ml.model.train import DevelopmentSample, development_sample, fit, time_split
from ml.model.verdict import RECOMMENDED
from ml.model.verdict import verdict as verdict_rule
from ml.rating import BandScale, band_scale, to_band, to_score
from ml.storage import Storage
from reports.candidate import CandidateReportData, ModelMetrics, render_candidate_report


@dataclass(frozen=True)
class ChampionComparison:
    """The champion on the candidate's out-of-time test, and the candidate's population on its bins."""

    version: str
    evaluation: Evaluation
    swap: dict[str, Any]  # metrics.swap_matrix at the champion's threshold
    psi: dict[str, Any]  # bins.stability of the new development sample on the champion's reference bins


def compare_with_champion(champion: RiskModel, version: str, candidate_p: Any, test: pd.DataFrame,
                          dev: pd.DataFrame, beta: float, monitoring: Monitoring) -> ChampionComparison:
    """Score the candidate's test and development samples with the champion and compare (pure)."""
    y, p_old = test["label"].to_numpy(), champion.predict_proba(test)
    return ChampionComparison(
        version=version, evaluation=evaluate(y, p_old, champion.threshold, beta),
        swap=metrics.swap_matrix(y, p_old, candidate_p, champion.threshold, champion.threshold),
        psi=bins.stability(champion.reference_bins, champion.pipeline.transform(dev), champion.predict_proba(dev),
                           monitoring.psi.pair))


def development_facts(spec: DatasetSpec, p: Any, auc: float, scale: BandScale) -> dict[str, Any]:
    """What weekly backtests compare with: the out-of-time test's AUC and its rows per score band."""
    bands = pd.Series(to_band(p, to_score(p, spec.policy), scale)).value_counts()
    return {"auc": auc, "band_rows": {str(band): int(rows) for band, rows in bands.items() if rows}}


def _model_metrics(m: dict[str, Any]) -> ModelMetrics:
    return ModelMetrics(**{k: m[k] for k in ModelMetrics.__dataclass_fields__})


def _log_run(spec: DatasetSpec, as_of: dt.date, sample: DevelopmentSample, parts: dict[str, pd.DataFrame],
             model: RiskModel, facts: dict[str, Any], candidate: Evaluation,
             champion: ChampionComparison | None) -> tuple[str, str]:
    """Params, metrics, reference bins, data window and the model into the active run; (model URI, model hash)."""
    mlflow.set_tags({"dataset": spec.name, "as_of": as_of.isoformat(), "data_hash": sample.data_hash,
                     "window_start": sample.window[0].isoformat(), "window_end": sample.window[1].isoformat()})
    mlflow.log_params({**{f"xgb.{k}": v for k, v in facts["params"].items()},
                       **{f"train.{k}": v for k, v in facts["config"].items() if k != "params"},
                       "best_iteration": facts["best_iteration"], "threshold": model.threshold})
    for prefix, evaluation in (("test", candidate), ("champion.test", champion and champion.evaluation)):
        if evaluation is not None:
            mlflow.log_metrics({f"{prefix}.{k}": float(v) for k, v in evaluation.metrics.items()
                                if isinstance(v, (int, float))})
    mlflow.log_dict(model.reference_bins, "reference_bins.json")
    mlflow.log_dict({"window": [d.isoformat() for d in sample.window], "data_hash": sample.data_hash,
                     "rows": {k: len(v) for k, v in parts.items()}, **sample.accounting}, "data_window.json")
    return registry.log_model(model, parts["test"].drop(columns=["label"]).head(5))


def retrain(storage: Storage, spec: DatasetSpec, as_of: dt.date, config: TrainConfig,
            run_key: str | None = None, artifact_root: str | None = None,
            approval_instructions: list[str] | None = None, now: dt.datetime | None = None,
            trigger: str | None = None) -> dict[str, Any]:
    """Run the whole candidate path for one dataset and as-of date; returns the candidate summary.

    `run_key` names the caller's run (the retrain DAG passes its run id) so its next tasks find the version
    it registered; from a terminal it defaults to the as-of date. `trigger` is why monitoring requested this
    retraining (a drift), shown on the report's first page and in the approvers' mail.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    sample = development_sample(storage, spec, as_of, config.window_days)
    parts = time_split(sample.frame, config.valid_days, config.test_days, sample.left_out())
    model, facts = fit(spec, parts, config)
    test, dev = parts["test"], pd.concat([parts["train"], parts["valid"]])
    p = model.predict_proba(test)
    candidate = evaluate(test["label"].to_numpy(), p, model.threshold, config.beta)
    model.meta["development"] = development_facts(spec, p, candidate.metrics["auc"],
                                                  band_scale(model.bands, spec.policy))
    before = None if model.calibration is None else metrics.calibration_table(
        test["label"].to_numpy(), model.raw_pd(model.pipeline.transform(test)))

    client = MlflowClient()
    name = registry.model_name(spec.name)
    current = decisions.resolve_champion(client, name)
    champion = None if current is None else compare_with_champion(
        registry.load_model(client, name, current.version), current.version, p, test, dev, config.beta,
        spec.monitoring)
    verdict, reason = verdict_rule(candidate.metrics["auc"], champion and champion.evaluation.metrics["auc"],
                                   config.margin)

    # with a database tracking URI and no root, MLflow would write artifacts to ./mlruns of the caller
    exp = registry.experiment(client, f"riskops/{spec.name}", artifact_root or Settings.from_env().artifact_root)
    with mlflow.start_run(experiment_id=exp.experiment_id, run_name=f"{spec.name} as of {as_of}") as run:
        model_uri, model_sha = _log_run(spec, as_of, sample, parts, model, facts, candidate, champion)
        version = registry.register_candidate(client, name, model_uri, run.info.run_id, {
            registry.TAG + "data_hash": sample.data_hash, registry.TAG + "as_of": as_of.isoformat(),
            registry.TAG + "verdict": verdict, registry.TAG + "model_sha256": model_sha,
            **({registry.TAG + "trigger": trigger[:5000]} if trigger else {})})
        report = CandidateReportData(
            dataset=spec.name, model_name=name, version=version, run_id=run.info.run_id,
            as_of=as_of.isoformat(), data_window=(sample.window[0].isoformat(), sample.window[1].isoformat()),
            data_hash=sample.data_hash,
            sample_sizes={k: {"n": float(len(v)), "positive_rate": float(v["label"].mean())} for k, v in parts.items()},
            verdict=verdict, verdict_reason=reason, recommended=verdict == RECOMMENDED,
            challenger=_model_metrics(candidate.metrics),
            champion=_model_metrics(champion.evaluation.metrics) if champion else None,
            champion_version=champion.version if champion else None,
            beta=config.beta, threshold_method=config.threshold_method,
            threshold_rationale=facts["threshold_rationale"],
            roc={"challenger": candidate.roc, **({"champion": champion.evaluation.roc} if champion else {})},
            ks_curve=candidate.ks_curve, calibration=candidate.calibration, score_histogram=candidate.score_histogram,
            calibration_before=before, calibration_method=model.calibration and model.calibration["method"],
            feature_importance=facts["feature_importance"], feature_count=len(model.pipeline.order),
            psi_vs_champion=champion.psi if champion else None,
            swap_matrix={**champion.swap, "swap_in": champion.swap["swap_in"]["n"],
                         "swap_out": champion.swap["swap_out"]["n"]} if champion else None,
            approval_instructions=approval_instructions or default_instructions(spec.name, name, version),
            generated_at=now.isoformat(timespec="seconds"), trigger=trigger,
        )
        pdf = render_candidate_report(report)
        sha = hashlib.sha256(pdf).hexdigest()
        mlflow.log_text("", "report/.keep")  # the folder exists even if the PDF upload below fails
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}-v{version}.pdf"
            path.write_bytes(pdf)
            mlflow.log_artifact(str(path), "report")
    client.set_model_version_tag(name, version, registry.TAG + "report_sha256", sha)

    summary = {
        "dataset": spec.name, "model_name": name, "version": version, "run_id": run.info.run_id,
        "as_of": as_of.isoformat(), "verdict": verdict, "verdict_reason": reason, "threshold": model.threshold,
        "metrics": candidate.metrics, "champion_version": champion.version if champion else None,
        "champion_metrics": champion.evaluation.metrics if champion else None, "report_sha256": sha,
        "model_sha256": model_sha, "data_hash": sample.data_hash, "data_accounting": sample.accounting,
        "report_key": layout.candidate(spec.name, version, "candidate.pdf"), "trigger": trigger,
    }
    storage.write_once(summary["report_key"], pdf)
    # only now is the new candidate complete and reviewable: older ones still waiting are closed
    summary["superseded"] = decisions.supersede_waiting(client, name, version)
    storage.write_json(layout.candidate(spec.name, version, "candidate.json"), summary, once=True)
    storage.write_json(layout.retrain_run(spec.name, run_key or f"as_of={as_of.isoformat()}"),
                       {"version": version, "candidate": layout.candidate(spec.name, version, "candidate.json")})
    return summary


def default_instructions(dataset: str, name: str, version: str) -> list[str]:
    return [
        f"In Airflow: open the DAG retrain_{dataset}, the latest run, task 'approval' (or Browse > "
        "Required Actions), read this report, then choose Approve or Reject and give a reason.",
        f"From a terminal: python -m ml promote --dataset {dataset} --version {version} --approver \"<your name>\"",
        f"To decline: python -m ml reject --dataset {dataset} --version {version} --approver \"<your name>\" "
        "--reason \"<why>\"",
        f"After approval, {name} version {version} becomes stage Production and alias 'champion'; "
        "the next nightly scoring run uses it.",
    ]
