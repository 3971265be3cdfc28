"""The retraining step, in two parts, so everything that can fail on the data fails before anything is
registered:

- `build_candidate` (pure: data in, data out): split the development sample, check each sample holds enough
  rows and outcomes, train, evaluate on the out-of-time test (AUC with its interval), compare with the
  champion on the same rows, and decide the verdict;
- `publish`: log the run and register the version in MLflow, render the approvers' PDF and the version's
  technical file and store them with the candidate's summary under its version (write-once), point the
  retraining run at it, and only then make it a candidate (Staging, alias `challenger`); if any of that
  fails, the version and what was stored for it are removed again, so no half-registered version is left.
  Older waiting candidates are superseded last.

`retrain` reads the inputs (the development sample, the champion) and runs both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from ml import bins, contracts, layout, metrics
from ml.config import TrainConfig
from ml.contracts import Contract
from ml.errors import MissingDataError
from ml.governance import approvals, halt, registry, technical_file
from ml.governance.candidate import (
    CalibrationRow,
    CandidateSummary,
    DataAccounting,
    Fairness,
    Gain,
    Metrics,
    Monotone,
    RetrainPointer,
    SampleCount,
    ScorecardReview,
    Stability,
    roundtrip,
)
from ml.model import fairness_review, scorecard_review
from ml.model.evaluate import Evaluation, evaluate
from ml.model.partial_dependence import MonotoneCheck, monotone_checks
from ml.model.riskmodel import RiskModel
from ml.model.train import (
    DevelopmentSample,
    check_samples,
    development_sample,
    fit,
    sample_counts,
    time_split,
    window_gaps,
)
from ml.model.verdict import RECOMMENDED
from ml.model.verdict import verdict as verdict_rule
from ml.ranking import AucDifference, paired_auc_difference
from ml.rating import BandScale, band_scale, to_band, to_score
from ml.spec import DatasetSpec, Monitoring
from ml.storage import Storage
from reports.candidate import (
    CandidateReportData,
    FeatureShift,
    ModelMetrics,
    PsiVsChampion,
    SwapCell,
    SwapMatrix,
    render_candidate_report,
)


@dataclass(frozen=True)
class ChampionComparison:
    """The champion on the candidate's out-of-time test, and the candidate's population on its bins."""

    version: str
    evaluation: Evaluation
    gain: AucDifference  # candidate AUC - champion AUC on the same rows, DeLong's paired standard error
    # each model at its own production threshold: what production decides today (the champion) against what it
    # would decide once the candidate is promoted
    swap: SwapMatrix
    psi: Stability  # the new development sample on the champion's reference bins


def compare_with_champion(champion: RiskModel, version: str, candidate_p: Any, candidate_threshold: float,
                          test: pd.DataFrame, dev: pd.DataFrame, beta: float,
                          monitoring: Monitoring) -> ChampionComparison:
    """Score the candidate's test and development samples with the champion and compare (pure)."""
    y, p_old = test["label"].to_numpy(), champion.predict_proba(test)
    return ChampionComparison(
        version=version, evaluation=evaluate(y, p_old, champion.threshold, beta),
        gain=paired_auc_difference(y, p_old, candidate_p),
        swap=swap_matrix(metrics.swap_matrix(y, p_old, candidate_p, champion.threshold, candidate_threshold)),
        psi=Stability.model_validate(bins.stability(champion.reference_bins, champion.pipeline.transform(dev),
                                                    champion.predict_proba(dev), monitoring.psi.pair)))


def swap_matrix(cells: dict[str, Any]) -> SwapMatrix:
    """`ml.metrics.swap_matrix`'s cells ("approve->decline": {n, bads, bad_rate}) as the report's data."""
    def cell(key: str) -> SwapCell:
        return SwapCell(n=int(cells[key]["n"]), bads=int(cells[key]["bads"]), bad_rate=float(cells[key]["bad_rate"]))
    return SwapMatrix(approve_approve=cell("approve->approve"), approve_decline=cell("approve->decline"),
                      decline_approve=cell("decline->approve"), decline_decline=cell("decline->decline"))


def psi_for_report(psi: Stability) -> PsiVsChampion:
    """The stability against the champion as the report shows it."""
    return PsiVsChampion(score_psi=psi.score_psi, score_light=psi.score_light,
                         features={f: FeatureShift(csi=v.csi, light=v.light) for f, v in psi.features.items()},
                         eps=psi.eps, amber=psi.thresholds["amber"], red=psi.thresholds["red"])


def development_facts(spec: DatasetSpec, p: Any, auc: float, scale: BandScale) -> dict[str, Any]:
    """What weekly backtests compare with: the out-of-time test's AUC and its rows per score band."""
    bands = pd.Series(to_band(p, to_score(p, spec.policy), scale)).value_counts()
    return {"auc": auc, "band_rows": {str(band): int(rows) for band, rows in bands.items() if rows}}


@dataclass(frozen=True)
class Candidate:
    """A trained, evaluated and judged candidate that is not in MLflow yet: everything `publish` needs."""

    spec: DatasetSpec
    as_of: dt.date
    config: TrainConfig
    sample: DevelopmentSample
    parts: dict[str, pd.DataFrame]
    model: RiskModel
    facts: dict[str, Any]  # ml.model.train.fit's training facts
    evaluation: Evaluation  # on the out-of-time test
    calibration_before: list[dict[str, Any]] | None  # the raw PDs' calibration, for a calibrated model
    champion: ChampionComparison | None
    verdict: str
    verdict_reason: str
    gaps: list[str] = field(default_factory=list)  # days the window lost (ml.model.train.window_gaps)
    trigger: str | None = None
    fairness: fairness_review.Review | None = None  # fair lending and reasons on the test sample
    # the partial-dependence line of each of the spec's monotone features, on the development sample
    monotone: list[MonotoneCheck] = field(default_factory=list)
    scorecard: scorecard_review.Review | None = None  # the scorecard and the XGBoost model side by side


def build_candidate(spec: DatasetSpec, as_of: dt.date, sample: DevelopmentSample, config: TrainConfig,
                    champion: tuple[str, RiskModel] | None, trigger: str | None = None) -> Candidate:
    """Split, check, train, evaluate and compare with the champion (its version and model); nothing is written.
    Too few rows or outcomes in a sample, or a model that learned nothing, is a MissingDataError naming it."""
    parts = time_split(sample.frame, config.valid_days, config.test_days, sample.left_out())
    check_samples(parts, spec, config, sample.left_out())
    try:
        model, facts = fit(spec, parts, config)
    except MissingDataError as exc:  # a model that learned nothing: say what the window lost too
        raise MissingDataError(f"{exc}{sample.left_out()}") from exc
    # the scorecard is trained on the same sample either way: it is the candidate or shown beside it
    card = scorecard_review.fit_scorecard(spec, parts, model.pipeline)
    side_by_side = scorecard_review.review(spec, parts, config, card, model, config.algorithm)
    if config.algorithm == "scorecard":
        model, facts = scorecard_review.scorecard_model(spec, parts, config, model.pipeline, card)
    test, dev = parts["test"], pd.concat([parts["train"], parts["valid"]])
    y, p = test["label"].to_numpy(), model.predict_proba(test)
    evaluation = evaluate(y, p, model.threshold, config.beta)
    m = evaluation.metrics
    model.meta["development"] = development_facts(spec, p, m["auc"], band_scale(model.bands, spec.policy))
    before = None if model.calibration is None else metrics.calibration_table(
        y, model.raw_pd(model.pipeline.transform(test)))
    comparison = None if champion is None else compare_with_champion(
        champion[1], champion[0], p, model.threshold, test, dev, config.beta, spec.monitoring)
    verdict, reason = verdict_rule(m["auc"], m["auc_low"], m["auc_high"],
                                   None if comparison is None else comparison.evaluation.metrics["auc"],
                                   None if comparison is None else comparison.gain, config.margin, len(test))
    review = fairness_review.review(spec, model, test, p, dev, None if champion is None else (
        champion[1], champion[1].predict_proba(test)))
    verdict, reason = fairness_review.verdict(verdict, reason, review)
    model.meta["reasons"] = {"first": {r["code"]: r["first_share"] for r in review.reasons}}
    monotone = monotone_checks(model.pd, model.pipeline.transform(dev), spec.monotone, seed=config.seed)
    return Candidate(spec=spec, as_of=as_of, config=config, sample=sample, parts=parts, model=model, facts=facts,
                     evaluation=evaluation, calibration_before=before, champion=comparison, verdict=verdict,
                     verdict_reason=reason, gaps=window_gaps(sample.accounting), trigger=trigger, fairness=review,
                     monotone=monotone, scorecard=side_by_side)


def champion_model(client: MlflowClient, name: str) -> tuple[str, RiskModel] | None:
    """The champion a candidate is compared with: the version that scores, and its model. A pointer edited in
    MLflow to a version that may not score is refused (one line about the pointer), as scoring refuses it."""
    current = approvals.sync_champion(client, name, consequence="nothing was trained (a candidate is compared "
                                                                    "with the champion that scores)")
    return None if current is None else (current.version, registry.load_model(client, name, current.version))


def _model_metrics(m: dict[str, Any]) -> ModelMetrics:
    return ModelMetrics(**{k: m[k] for k in ModelMetrics.__dataclass_fields__})


def _log_run(candidate: Candidate) -> tuple[str, str]:
    """Params, metrics, reference bins, data window and the model into the active run; (model URI, model hash)."""
    spec, sample, model, facts = candidate.spec, candidate.sample, candidate.model, candidate.facts
    mlflow.set_tags({"dataset": spec.name, "as_of": candidate.as_of.isoformat(), "data_hash": sample.data_hash,
                     "window_start": sample.window[0].isoformat(), "window_end": sample.window[1].isoformat()})
    prefix = "scorecard." if model.meta.get("algorithm") == "scorecard" else "xgb."
    mlflow.log_params({**{f"{prefix}{k}": v for k, v in facts["params"].items()},
                       **{f"train.{k}": v for k, v in facts["config"].items() if k != "params"},
                       "best_iteration": facts["best_iteration"], "threshold": model.threshold})
    champion = candidate.champion
    for prefix, evaluation in (("test", candidate.evaluation),
                               ("champion.test", None if champion is None else champion.evaluation)):
        if evaluation is not None:
            mlflow.log_metrics({f"{prefix}.{k}": float(v) for k, v in evaluation.metrics.items()
                                if isinstance(v, (int, float))})
    mlflow.log_dict(model.reference_bins, "reference_bins.json")
    mlflow.log_dict({"window": [d.isoformat() for d in sample.window], "data_hash": sample.data_hash,
                     "rows": {k: len(v) for k, v in candidate.parts.items()}, "gaps": candidate.gaps,
                     **sample.accounting}, "data_window.json")
    return registry.log_model(model, candidate.parts["test"].drop(columns=["label"]).head(5))


def _sample_sizes(parts: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    return {k: {"n": float(c["rows"]), "positives": float(c["positives"]), "positive_rate": c["positives"] / c["rows"]}
            for k, c in sample_counts(parts).items()}


def report_data(candidate: Candidate, name: str, version: str, run_id: str, instructions: list[str],
                now: dt.datetime, champion_line: str | None = None) -> CandidateReportData:
    """What the candidate's PDF shows (pure); `champion_line` is the current champion's line of the champion
    history (`ml.governance.champions.champion_line`)."""
    e, champion, facts, model = candidate.evaluation, candidate.champion, candidate.facts, candidate.model
    sample = candidate.sample
    return CandidateReportData(
        dataset=candidate.spec.name, model_name=name, version=version, run_id=run_id,
        as_of=candidate.as_of.isoformat(), data_window=(sample.window[0].isoformat(), sample.window[1].isoformat()),
        data_hash=sample.data_hash,
        sample_sizes=_sample_sizes(candidate.parts),
        verdict=candidate.verdict, verdict_reason=candidate.verdict_reason,
        recommended=candidate.verdict == RECOMMENDED,
        challenger=_model_metrics(e.metrics),
        champion=_model_metrics(champion.evaluation.metrics) if champion else None,
        champion_version=champion.version if champion else None,
        beta=candidate.config.beta, threshold_method=candidate.config.threshold_method,
        threshold_rationale=facts["threshold_rationale"],
        roc={"challenger": e.roc, **({"champion": champion.evaluation.roc} if champion else {})},
        ks_curve=e.ks_curve, calibration=e.calibration, score_histogram=e.score_histogram,
        calibration_before=candidate.calibration_before,
        calibration_method=None if model.calibration is None else model.calibration["method"],
        feature_importance=facts["feature_importance"], feature_count=len(model.pipeline.order),
        psi_vs_champion=psi_for_report(champion.psi) if champion else None,
        swap_matrix=champion.swap if champion else None,
        approval_instructions=instructions, generated_at=now.isoformat(timespec="seconds"),
        trigger=candidate.trigger, window_gaps=list(candidate.gaps), champion_line=champion_line,
        fairness=candidate.fairness.to_dict() if candidate.fairness else None,
        monotone=[c.to_dict() for c in candidate.monotone],
        scorecard=candidate.scorecard.to_dict() if candidate.scorecard else None,
        algorithm=candidate.config.algorithm,
    )


def publish(candidate: Candidate, storage: Storage, client: MlflowClient, artifact_root: str | None,
            run_key: str | None = None, approval_instructions: list[str] | None = None,
            now: dt.datetime | None = None, trained_by: str | None = None, quorum: int = 1) -> CandidateSummary:
    """Log, register, report and store the candidate, then put it up for approval; returns its summary.

    `artifact_root` is where a new experiment keeps its artifacts (None: the tracking server decides).
    `run_key` names the caller's run (the retrain DAG passes its run id) so its next tasks find the version;
    from a terminal it defaults to the as-of date. `trained_by` (who triggered the training) is tagged on the
    version for separation of duties; `quorum` is how many approvers it needs, said in the report and mail.
    Whatever fails before the version is a candidate removes it.
    """
    spec, as_of = candidate.spec, candidate.as_of
    name, now = registry.model_name(spec.name), now or dt.datetime.now(dt.timezone.utc)
    trigger = candidate.trigger
    exp = registry.experiment(client, f"riskops/{spec.name}", artifact_root)
    started = registry.call(client, f"starting a training run of {name}", lambda: mlflow.start_run(
        experiment_id=exp.experiment_id, run_name=f"{spec.name} as of {as_of}"))
    with started as run:
        model_uri, model_sha = registry.call(client, f"logging the training run of {name}", lambda: _log_run(candidate))
        version = registry.register_version(client, name, model_uri, run.info.run_id, {
            registry.TAG + "data_hash": candidate.sample.data_hash, registry.TAG + "as_of": as_of.isoformat(),
            registry.TAG + "verdict": candidate.verdict, registry.TAG + "model_sha256": model_sha,
            **({registry.TAG + "trigger": trigger[:5000]} if trigger else {}),
            **({registry.TAG + "trained_by": trained_by[:500]} if trained_by else {})})
        pub = Publication(storage, client, name, version, run.info.run_id, model_sha)
        try:
            summary = _report_and_store(candidate, pub, approval_instructions or default_instructions(
                spec.name, name, version, quorum), now, run_key, quorum)
            registry.make_candidate(client, name, version)
        except BaseException:
            _withdraw(pub)
            raise
    # only now is the new candidate complete and reviewable: older ones still waiting are closed
    approvals.supersede_waiting(client, name, version)
    return summary


def _report_and_store(candidate: Candidate, pub: Publication, instructions: list[str], now: dt.datetime,
                      run_key: str | None, quorum: int = 1) -> CandidateSummary:
    """The PDF in the run and in storage, its hash on the version, the technical file likewise, the summary and
    the run's pointer to it."""
    spec, name, version = candidate.spec, pub.name, pub.version
    line = halt.champion_line(pub.client, name)
    pdf = render_candidate_report(report_data(candidate, name, version, pub.run_id, instructions, now, line))
    report_sha = pub.store_pdf(pdf, "the report", "report", f"{name}-v{version}.pdf",
                               layout.candidate(spec.name, version, "candidate.pdf"), "report_sha256")
    superseded = [v for v in approvals.waiting_candidates(pub.client, name) if int(v) < int(version)]
    # the technical file from the summary as it reads back from candidate.json: a re-render gets the same bytes
    summary = roundtrip(build_summary(candidate, pub, report_sha, now, quorum, line, superseded))
    file_pdf = technical_file.render(technical_file.gather(pub.storage, pub.client, spec, summary))
    file_key = technical_file.key(spec.name, version)
    file_sha = pub.store_pdf(file_pdf, "the technical file", technical_file.ARTIFACT_DIR,
                             technical_file.artifact_name(name, version), file_key, technical_file.SHA_TAG)
    summary = summary.model_copy(update={"technical_file_key": file_key, "technical_file_sha256": file_sha})
    pub.write(summary.key, summary, once=True)
    pointer = layout.retrain_run(spec.name, run_key or f"as_of={candidate.as_of.isoformat()}")
    pub.write(pointer, RetrainPointer(version=version, candidate=summary.key))
    return summary


@dataclass
class Publication:
    """A version being published: where it goes, who it is, and every storage key written for it so far (what
    `_withdraw` removes if the publication fails half-way)."""

    storage: Storage
    client: MlflowClient
    name: str
    version: str
    run_id: str
    model_sha256: str
    stored: list[str] = field(default_factory=list)

    def store_pdf(self, pdf: bytes, what: str, folder: str, file_name: str, key: str, sha_tag: str) -> str:
        """A PDF into the run's artifact `folder` and storage (write-once), its SHA-256 tagged on the version as
        `sha_tag`; returns the SHA-256."""
        sha = hashlib.sha256(pdf).hexdigest()
        _upload(self.client, f"{what} of {self.name} version {self.version}", folder, file_name, pdf)
        registry.call(self.client, f"tagging {self.name} version {self.version}",
                      lambda: self.client.set_model_version_tag(self.name, self.version, registry.TAG + sha_tag, sha))
        self.storage.write_once(key, pdf)
        self.stored.append(key)
        return sha

    def write(self, key: str, contract: Contract, once: bool = False) -> None:
        contracts.write(self.storage, key, contract, once=once)
        self.stored.append(key)


def build_summary(candidate: Candidate, ids: Publication, report_sha: str, now: dt.datetime, quorum: int,
                  champion_line: str | None, superseded: list[str]) -> CandidateSummary:
    """The candidate's summary before its technical file is rendered (pure)."""
    e, champion, spec = candidate.evaluation, candidate.champion, candidate.spec
    return CandidateSummary(
        dataset=spec.name, model_name=ids.name, version=ids.version, run_id=ids.run_id,
        as_of=candidate.as_of.isoformat(), verdict=candidate.verdict, verdict_reason=candidate.verdict_reason,
        threshold=candidate.model.threshold, metrics=Metrics.model_validate(e.metrics),
        champion_version=champion.version if champion else None,
        champion_metrics=Metrics.model_validate(champion.evaluation.metrics) if champion else None,
        gain=Gain(difference=champion.gain.difference, se=champion.gain.se) if champion else None,
        report_sha256=report_sha, model_sha256=ids.model_sha256, data_hash=candidate.sample.data_hash,
        data_accounting=DataAccounting.model_validate(candidate.sample.accounting),
        samples={k: SampleCount.model_validate(v) for k, v in sample_counts(candidate.parts).items()},
        gaps=candidate.gaps, report_key=layout.candidate(spec.name, ids.version, "candidate.pdf"),
        trigger=candidate.trigger, quorum=quorum, champion_line=champion_line,
        fairness=Fairness.model_validate(candidate.fairness.to_dict()) if candidate.fairness else None,
        algorithm=candidate.config.algorithm,
        monotone=[Monotone.model_validate(c.to_dict()) for c in candidate.monotone],
        scorecard=ScorecardReview.model_validate(candidate.scorecard.to_dict()) if candidate.scorecard else None,
        superseded=superseded, registered_at=now.isoformat(timespec="seconds"),
        window=(candidate.sample.window[0].isoformat(), candidate.sample.window[1].isoformat()),
        calibration=[CalibrationRow.model_validate(r) for r in e.calibration],
        threshold_rationale=candidate.facts["threshold_rationale"],
        feature_importance=[(str(f), v) for f, v in candidate.facts["feature_importance"]],
        features=list(candidate.model.pipeline.order),
        psi_vs_champion=champion.psi if champion else None,
    )


def _upload(client: MlflowClient, what: str, folder: str, file_name: str, content: bytes) -> None:
    """A file into the active run's artifact folder `folder`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / file_name
        path.write_bytes(content)

        def upload() -> None:
            mlflow.log_text("", f"{folder}/.keep")  # the folder exists even if the upload fails
            mlflow.log_artifact(str(path), folder)

        registry.call(client, f"uploading {what}", upload)


def _withdraw(pub: Publication) -> None:
    """Undo a publication that failed half-way: what was stored for the version, then the version itself. Best
    effort: the publication's own error is the one reported, and a version left behind is no candidate."""
    for key in pub.stored:
        try:
            pub.storage.delete(key)
        except Exception:  # noqa: BLE001 - the storage may be what failed
            pass
    try:
        registry.delete_version(pub.client, pub.name, pub.version)
    except Exception:  # noqa: BLE001 - MLflow may be what failed
        pass


def retrain(storage: Storage, spec: DatasetSpec, as_of: dt.date, config: TrainConfig, artifact_root: str | None,
            run_key: str | None = None, approval_instructions: list[str] | None = None,
            now: dt.datetime | None = None, trigger: str | None = None, trained_by: str | None = None,
            quorum: int = 1) -> CandidateSummary:
    """The whole candidate path for one dataset and as-of date; returns the candidate summary.

    `trigger` is why monitoring requested this retraining (a drift), shown on the report's first page and in
    the approvers' mail; the other arguments are `publish`'s.
    """
    sample = development_sample(storage, spec, as_of, config.window_days)
    client = MlflowClient()
    champion = champion_model(client, registry.model_name(spec.name))
    candidate = build_candidate(spec, as_of, sample, config, champion, trigger)
    return publish(candidate, storage, client, artifact_root, run_key=run_key,
                   approval_instructions=approval_instructions, now=now, trained_by=trained_by, quorum=quorum)


def default_instructions(dataset: str, name: str, version: str, quorum: int = 1) -> list[str]:
    four_eyes = ([f"Four eyes: {quorum} distinct approvers must approve this version before it is promoted; each "
                  "approval is recorded as it arrives, and a rejection by any approver ends it."] if quorum > 1 else [])
    return [
        f"In Airflow: open the DAG retrain_{dataset}, the latest run, task 'approval' (or Browse > "
        "Required Actions), read this report, then choose Approve or Reject and give a reason.",
        *four_eyes,
        f"From a terminal: python -m ml promote --dataset {dataset} --version {version} --approver \"<your name>\"",
        f"To decline: python -m ml reject --dataset {dataset} --version {version} --approver \"<your name>\" "
        "--reason \"<why>\"",
        f"After approval, {name} version {version} becomes stage Production and alias 'champion'; "
        "the next nightly scoring run uses it.",
    ]
