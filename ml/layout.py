"""Every zone and key under the storage root, spelled once. Keys are relative to the root (a local folder
or an object-store URL); dates are business dates (YYYY-MM-DD), `A` an arrival date.

  landing/<ds>/date=D/*.csv                  raw batches as received; never modified
  labels/<ds>/date=A/from-D.csv              outcomes of day D's rows, landed on the day A they are known
  reviews/<ds>/date=A/*.csv                  reviewers' decisions on rows sent to review, made on day A
  quarantine/_reviews/<ds>/date=A/part-0.parquet  rejected review rows: file, line, original text, reason
  manifests/reviews/<ds>/date=A.json         a review arrival's row accounting and input hashes
  curated/<ds>/date=D/part-0.parquet         typed clean rows (+ business_date)
  quarantine/<ds>/date=D/part-0.parquet      rejected rows: file, line, original text, reason
  manifests/preprocess/<ds>/date=D.json      row accounting, input hashes, daily statistics
  scores/<ds>/date=D/model=V/part-0.parquet  id, pd, score, band, decision, hard rule, reasons
  scores/<ds>/date=D/model=fallback/...      a day decided by the fallback policy while the model is halted
  scores/_staging/<ds>/date=D/model=V/       partitions of a day waiting for their commit
  manifests/score/<ds>/date=D/model=V.json   rows in / scored, model, input hash
  manifests/fallback/<ds>/date=D.json        a halted day: the fallback policy, the halt, the decisions
  decisions/<ds>/date=D/model=V/part-0.parquet  online decisions of day D (scores' schema + channel, decision
                                             id, time, client), rolled up from the decision log
  manifests/decisions/<ds>/date=D.json       a rolled-up day: records per version, the log files' SHA-256s
  candidates/<ds>/v=V/candidate.{json,pdf}   a registered candidate's summary and report (write-once)
  runs/retrain/<ds>/<run>.json               which version a retraining run registered
  runs/stability/<ds>/<run>.json             what a stability run found: windows, alert, trigger, reports
  runs/stability/<ds>/<run>.png              the chart its alert mail shows
  runs/backtest/<ds>/<run>.json              a backtest run's report, alerts and mail for the risk team
  runs/rollback/<ds>/<run>.json              what a rollback run asks the approvers to restore
  runs/oversight/<ds>/<event>.json           a halt's or resume's mail to the on-call and the risk team
  reports/stability/<ds>/week=YYYY-Www.pdf   weekly stability report
  reports/backtest/<ds>/as_of=D.pdf          weekly backtest report
  ondemand/...                               analysts' files scored on demand, and their scores
"""

from __future__ import annotations

import datetime as dt
import re

from ml.errors import RiskopsError

LANDING, LABELS, CURATED, QUARANTINE, SCORES = "landing", "labels", "curated", "quarantine", "scores"
DECISIONS = "decisions"  # the online decision service's decisions, by day and version (ml.serving.rollup)
ONDEMAND = "ondemand"
DATA_FILE = "part-0.parquet"
REPLAY_BATCH = "batch.csv"


def day_folder(zone: str, dataset: str, day: dt.date) -> str:
    """Folder of one dataset's business day in a zone."""
    return f"{zone}/{dataset}/date={day.isoformat()}"


def folder_date(name: str) -> dt.date:
    """The date of a `date=YYYY-MM-DD` folder name."""
    return dt.date.fromisoformat(name.removeprefix("date="))


def landing(dataset: str, day: dt.date) -> str:
    return day_folder(LANDING, dataset, day)


def replay_batch(dataset: str, day: dt.date) -> str:
    """The file a replay writes as a day's raw batch."""
    return f"{landing(dataset, day)}/{REPLAY_BATCH}"


def labels_root(dataset: str) -> str:
    return f"{LABELS}/{dataset}"


def labels_file(dataset: str, arrival: dt.date, origin: dt.date) -> str:
    return f"{day_folder(LABELS, dataset, arrival)}/from-{origin.isoformat()}.csv"


def labels_origin(key: str) -> dt.date | None:
    """The application date of the rows a labels file holds (its `from-D.csv` name); None for other files."""
    m = re.fullmatch(r"from-(\d{4}-\d{2}-\d{2})\.csv", key.rsplit("/", 1)[-1])
    return dt.date.fromisoformat(m[1]) if m else None


REVIEWS = "reviews"


def reviews_root(dataset: str) -> str:
    return f"{REVIEWS}/{dataset}"


def reviews(dataset: str, decided: dt.date) -> str:
    """Folder of the reviewers' decisions made on `decided`, as the bank's case tool exports them."""
    return day_folder(REVIEWS, dataset, decided)


def reviews_quarantine(dataset: str, decided: dt.date) -> str:
    """The review rows of an arrival that were refused, each with its reason (beside the landing quarantine,
    under `_reviews` so a dataset's quarantine folder holds only its business days)."""
    return f"{QUARANTINE}/_{REVIEWS}/{dataset}/date={decided.isoformat()}/{DATA_FILE}"


def reviews_manifest(dataset: str, decided: dt.date) -> str:
    return f"manifests/{REVIEWS}/{dataset}/date={decided.isoformat()}.json"


def curated(dataset: str, day: dt.date) -> str:
    return f"{day_folder(CURATED, dataset, day)}/{DATA_FILE}"


def quarantine(dataset: str, day: dt.date) -> str:
    return f"{day_folder(QUARANTINE, dataset, day)}/{DATA_FILE}"


def preprocess_manifests(dataset: str) -> str:
    return f"manifests/preprocess/{dataset}"


def preprocess_manifest(dataset: str, day: dt.date) -> str:
    return f"{preprocess_manifests(dataset)}/date={day.isoformat()}.json"


def scores(dataset: str, day: dt.date, version: str) -> str:
    return f"{day_folder(SCORES, dataset, day)}/model={version}/{DATA_FILE}"


FALLBACK = "fallback"  # the `model=` folder of the days the fallback policy decided (no model version)


def fallback_manifest(dataset: str, day: dt.date) -> str:
    """The manifest of a day decided by the fallback policy while the model was halted (its scores are
    `scores(dataset, day, FALLBACK)`); kept apart from the model versions' manifests, which name a version."""
    return f"manifests/fallback/{dataset}/date={day.isoformat()}.json"


def decisions(dataset: str, day: dt.date, version: str) -> str:
    """A day's online decisions made by `version` (or FALLBACK), in the scores' schema with a `channel` column."""
    return f"{day_folder(DECISIONS, dataset, day)}/model={version}/{DATA_FILE}"


def decisions_day(dataset: str, day: dt.date) -> str:
    return day_folder(DECISIONS, dataset, day)


def decisions_manifest(dataset: str, day: dt.date) -> str:
    return f"manifests/{DECISIONS}/{dataset}/date={day.isoformat()}.json"


def scores_staging_root() -> str:
    return f"{SCORES}/_staging"


def scores_staging(dataset: str, day: dt.date, version: str) -> str:
    return f"{scores_staging_root()}/{dataset}/date={day.isoformat()}/model={version}"


def scores_staging_part(dataset: str, day: dt.date, version: str, part: int) -> str:
    return f"{scores_staging(dataset, day, version)}/part-{part:04d}.parquet"


def scores_day(dataset: str, day: dt.date) -> str:
    """Folder of a day's scores, one `model=V` sub-folder per version that scored it."""
    return day_folder(SCORES, dataset, day)


def folder_version(name: str) -> str:
    """The model version of a `model=V` folder name."""
    return name.removeprefix("model=")


def score_manifests(dataset: str, day: dt.date) -> str:
    return f"manifests/score/{dataset}/date={day.isoformat()}"


def score_manifest(dataset: str, day: dt.date, version: str) -> str:
    return f"{score_manifests(dataset, day)}/model={version}.json"


def model_version(version: str) -> str:
    """`version` if it names a registered model version: a whole number (MLflow numbers versions 1, 2, ...)."""
    if not re.fullmatch(r"[1-9][0-9]{0,8}", str(version)):
        raise RiskopsError(f"{str(version)[:40]!r} is not a model version: registered versions are whole numbers "
                           "(1, 2, 3, ...)")
    return str(version)


def candidate(dataset: str, version: str, name: str) -> str:
    """A registered candidate's artefact (candidate.json, candidate.pdf); written once, never replaced."""
    return f"candidates/{dataset}/v={model_version(version)}/{name}"


def retrain_run(dataset: str, run_key: str) -> str:
    """Pointer from a retraining run (an Airflow run id, or `as_of=D` from a terminal) to its version."""
    return _run_file("retrain", dataset, run_key) + ".json"


def _run_file(kind: str, dataset: str, run_key: str) -> str:
    return f"runs/{kind}/{dataset}/{re.sub(r'[^A-Za-z0-9_.=+-]', '_', run_key)}"


def inventory_run(run_key: str) -> str:
    """What the inventory run `run_key` (an Airflow run id) found: every model's line and the overdue reviews'
    mail, for the DAG's next task."""
    return f"runs/inventory/{re.sub(r'[^A-Za-z0-9_.=+-]', '_', run_key)}.json"


def inventory_mailed(as_of: dt.date) -> str:
    """The record that the overdue reviews as of `as_of` were mailed (once, not again on a retry or re-run)."""
    return f"runs/inventory/mailed/as_of={as_of.isoformat()}.json"


def rollback_run(dataset: str, run_key: str) -> str:
    """What the rollback run `run_key` (an Airflow run id) asks the approvers to restore, for its reminder."""
    return _run_file("rollback", dataset, run_key) + ".json"


def oversight_notices(dataset: str) -> str:
    """Folder of the mails that halts and resumes leave for the Airflow side to send."""
    return f"runs/oversight/{dataset}"


def oversight_notice(dataset: str, event_id: str) -> str:
    """The mail a halt or a resume (`event_id`, its champion-history id) leaves for the on-call and risk team."""
    return _run_file("oversight", dataset, event_id) + ".json"


def stability_run(dataset: str, run_key: str, suffix: str = ".json") -> str:
    """What the stability run `run_key` found (.json), and its alert chart (.png), for the DAG's next tasks."""
    return _run_file("stability", dataset, run_key) + suffix


def backtest_run(dataset: str, run_key: str) -> str:
    """What the backtest run `run_key` left for the DAG's next task (the report and the mail)."""
    return _run_file("backtest", dataset, run_key) + ".json"


_ONDEMAND_KEY = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


ONDEMAND_SUFFIXES = (".parquet", ".csv")


def ondemand_files(source: str, output: str | None) -> tuple[str, str]:
    """Keys of an on-demand input and of its scores (`output`, default `<input>.scores.parquet`), both names
    under `ondemand/`, the scores in a format scoring writes and never over the input."""
    output = output or source.rsplit(".", 1)[0] + ".scores.parquet"
    if not output.endswith(ONDEMAND_SUFFIXES):
        raise RiskopsError(f"--output must end in .parquet or .csv: {output[:80]!r}")
    source_key, target = ondemand(source), ondemand(output)
    if target == source_key:
        raise RiskopsError("--output must not be the --input file")
    return source_key, target


def ondemand(key: str) -> str:
    """An analyst's file in the on-demand area: `key` is relative to `ondemand/` (e.g. `2026-11/list.csv`).
    Anything else (absolute paths, URLs, `..`, hidden names) is refused before anything is opened."""
    if not _ONDEMAND_KEY.match(key or ""):
        raise RiskopsError(f"on-demand files are names under {ONDEMAND}/ in the storage root (letters, digits, "
                           f"'_', '-', '.', '/' between folders; no '..', no leading '/' or '.'): {key!r} is not")
    return f"{ONDEMAND}/{key}"


def stability_report(dataset: str, week: str) -> str:
    """The weekly stability PDF; `week` is the ISO week, e.g. 2026-W38."""
    return f"reports/stability/{dataset}/week={week}.pdf"


def backtest_report(dataset: str, as_of: dt.date) -> str:
    return f"reports/backtest/{dataset}/as_of={as_of.isoformat()}.pdf"
