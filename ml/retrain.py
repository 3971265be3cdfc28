"""The retraining step: train a candidate, compare it with the champion, log and register it in MLflow,
render the approvers' PDF, and leave candidate.json + candidate.pdf in storage for the DAG's next tasks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from ml import bins, metrics, registry
from ml.config import Settings
from ml.model import RiskModel
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.train import TrainConfig, development_sample, fit, time_split
from reports.candidate import CandidateReportData, ModelMetrics, render_candidate_report


# the file is executed by MLflow when the model is logged and loaded, so it is located, not imported, here
_PYFUNC_CODE = str(importlib.util.find_spec("ml.pyfunc_model").origin)  # type: ignore[union-attr]


def candidate_key(dataset: str, as_of: dt.date, name: str) -> str:
    return f"runs/retrain/{dataset}/as_of={as_of.isoformat()}/{name}"


def load_registered(name: str, version: str) -> RiskModel:
    """The RiskModel of a registered version, as scoring will use it."""
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().model  # type: ignore[no-any-return]


def _model_metrics(m: dict[str, Any]) -> ModelMetrics:
    fields = ModelMetrics.__dataclass_fields__
    return ModelMetrics(**{k: m[k] for k in fields})


def _log_model(model: RiskModel, example: pd.DataFrame) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "model_dir")
        predictions = pd.DataFrame({"pd": model.predict_proba(example)})
        # integer columns may hold missing values at scoring time, so the signature declares them as doubles
        example = example.astype({c: "float64" for c in example.columns if str(example[c].dtype) in ("Int64", "int64")})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=_PYFUNC_CODE, artifacts={"model_dir": str(folder)},
            signature=infer_signature(example, predictions), input_example=example,
            # explicit requirements: inferring them would load the model in a subprocess for ~10 s
            pip_requirements=[*(f"{p}=={installed_version(p)}" for p in ("xgboost", "pandas", "numpy")), "riskops"],
        )
    return str(info.model_uri)


def _experiment(name: str, artifact_root: str | None) -> Any:
    client = MlflowClient()
    # with a database tracking URI and no root, MLflow would write artifacts to ./mlruns of the caller
    artifact_root = artifact_root or Settings.from_env().artifact_root
    if client.get_experiment_by_name(name) is None:
        location = f"{artifact_root.rstrip('/')}/{name.replace('/', '-')}" if artifact_root else None
        client.create_experiment(name, artifact_location=location)
    # looked up, not mlflow.set_experiment(): that would also set MLFLOW_EXPERIMENT_ID for the whole process
    return client.get_experiment_by_name(name)


def retrain(storage: Storage, spec: DatasetSpec, as_of: dt.date, config: TrainConfig,
            artifact_root: str | None = None, approval_instructions: list[str] | None = None,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Run the whole candidate path for one dataset and as-of date; returns the candidate summary."""
    now = now or dt.datetime.now(dt.timezone.utc)
    sample = development_sample(storage, spec, as_of, config.window_days)
    parts = time_split(sample.frame, config.valid_days, config.test_days)
    model, facts = fit(spec, parts, config)
    test, dev = parts["test"], pd.concat([parts["train"], parts["valid"]])
    y = test["label"].to_numpy()
    p = model.predict_proba(test)
    challenger = metrics.evaluate(y, p, model.threshold, config.beta)

    client = MlflowClient()
    name = registry.model_name(spec.name)
    champion = registry.resolve_champion(client, name)
    champion_metrics = swap = psi = champion_roc = None
    if champion is not None:
        old = load_registered(name, champion.version)
        p_old = old.predict_proba(test)
        champion_metrics = metrics.evaluate(y, p_old, old.threshold, config.beta)
        champion_roc = metrics.roc_points(y, p_old)
        swap = metrics.swap_matrix(y, p_old, p, old.threshold, old.threshold)
        psi = bins.stability(old.reference_bins, old.pipeline.transform(dev), old.predict_proba(dev))
    if champion_metrics is None:
        verdict, reason = "recommended", "first model for this dataset: no champion to beat"
    elif challenger["auc"] >= champion_metrics["auc"] + config.margin:
        verdict, reason = "recommended", (f"out-of-time AUC {challenger['auc']:.4f} beats the champion's "
                                          f"{champion_metrics['auc']:.4f} by at least the margin {config.margin:g}")
    else:
        verdict, reason = "not recommended", (f"out-of-time AUC {challenger['auc']:.4f} does not beat the "
                                              f"champion's {champion_metrics['auc']:.4f} by the margin {config.margin:g}")

    experiment = _experiment(f"riskops/{spec.name}", artifact_root)
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name=f"{spec.name} as of {as_of}") as run:
        mlflow.set_tags({"dataset": spec.name, "as_of": as_of.isoformat(), "data_hash": sample.data_hash,
                         "window_start": sample.window[0].isoformat(), "window_end": sample.window[1].isoformat()})
        mlflow.log_params({**{f"xgb.{k}": v for k, v in facts["params"].items()},
                           **{f"train.{k}": v for k, v in facts["config"].items() if k != "params"},
                           "best_iteration": facts["best_iteration"], "threshold": model.threshold})
        mlflow.log_metrics({f"test.{k}": float(v) for k, v in challenger.items() if isinstance(v, (int, float))})
        if champion_metrics:
            mlflow.log_metrics({f"champion.test.{k}": float(v) for k, v in champion_metrics.items()
                                if isinstance(v, (int, float))})
        mlflow.log_dict(model.reference_bins, "reference_bins.json")
        mlflow.log_dict({"window": [d.isoformat() for d in sample.window], "data_hash": sample.data_hash,
                         "rows": {k: len(v) for k, v in parts.items()}}, "data_window.json")
        model_uri = _log_model(model, test.drop(columns=["label"]).head(5))
        version = registry.register_candidate(client, name, model_uri, run.info.run_id, {
            registry.TAG + "data_hash": sample.data_hash, registry.TAG + "as_of": as_of.isoformat(),
            registry.TAG + "verdict": verdict})

        report = CandidateReportData(
            dataset=spec.name, model_name=name, version=version, run_id=run.info.run_id,
            as_of=as_of.isoformat(), data_window=(sample.window[0].isoformat(), sample.window[1].isoformat()),
            data_hash=sample.data_hash,
            sample_sizes={k: {"n": float(len(v)), "positive_rate": float(v["label"].mean())} for k, v in parts.items()},
            verdict=verdict, verdict_reason=reason,
            challenger=_model_metrics(challenger),
            champion=_model_metrics(champion_metrics) if champion_metrics else None,
            champion_version=champion.version if champion else None,
            beta=config.beta, threshold_method=config.threshold_method,
            threshold_rationale=facts["threshold_rationale"],
            roc={"challenger": metrics.roc_points(y, p), **({"champion": champion_roc} if champion_roc else {})},
            ks_curve=metrics.ks_curve(y, p), calibration=metrics.calibration_table(y, p),
            score_histogram=metrics.score_histogram(y, p),
            feature_importance=facts["feature_importance"][:15],
            psi_vs_champion=psi,
            swap_matrix={**swap, "swap_in": swap["swap_in"]["n"], "swap_out": swap["swap_out"]["n"]} if swap else None,
            approval_instructions=approval_instructions or default_instructions(spec.name, name, version),
            generated_at=now.isoformat(timespec="seconds"),
        )
        pdf = render_candidate_report(report)
        sha = hashlib.sha256(pdf).hexdigest()
        mlflow.log_text("", "report/.keep")  # the folder exists even if the PDF upload below fails
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}-v{version}.pdf"
            path.write_bytes(pdf)
            mlflow.log_artifact(str(path), "report")
    client.set_model_version_tag(name, version, registry.TAG + "report_sha256", sha)
    # only now is the new candidate complete and reviewable: older ones still waiting are closed
    superseded = registry.supersede_waiting(client, name, version)

    summary = {
        "dataset": spec.name, "model_name": name, "version": version, "run_id": run.info.run_id,
        "as_of": as_of.isoformat(), "verdict": verdict, "verdict_reason": reason, "threshold": model.threshold,
        "metrics": challenger, "champion_version": champion.version if champion else None,
        "champion_metrics": champion_metrics, "report_sha256": sha, "data_hash": sample.data_hash,
        "report_key": candidate_key(spec.name, as_of, "candidate.pdf"), "superseded": superseded,
    }
    storage.write_bytes(summary["report_key"], pdf)
    storage.write_json(candidate_key(spec.name, as_of, "candidate.json"), summary)
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
