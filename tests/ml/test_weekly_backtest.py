"""The backtest step through the command line, on a real MLflow store: a champion that scored the days, a
candidate waiting in Staging as the shadow challenger, the PDF stored for the risk team."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import mlflow
import pytest
from mlflow import MlflowClient

from ml import layout
from ml.cli import main
from ml.config import TrainConfig
from ml.governance import registry
from ml.model.riskmodel import RiskModel
from ml.monitor.weekly_backtest import weekly_backtest
from ml.retraining.retrain import retrain
from ml.scoring import score
from ml.spec import DatasetSpec
from ml.storage import Storage
from tests.helpers import approve, land_and_preprocess

DS = "card_transactions"
NAME = registry.model_name(DS)
START = dt.date(2026, 9, 7)  # a Monday: two full ISO weeks
DAYS = 14
AS_OF = START + dt.timedelta(days=DAYS - 1 + 45)  # every day matured (the cards' lag is 45 days)
CONFIG = TrainConfig(window_days=DAYS, valid_days=3, test_days=4, num_boost_round=100, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, cards_spec: DatasetSpec) -> Iterator[dict]:
    """Version 1 trained, approved and scoring every day; version 2 (its first 5 trees) waiting as challenger."""
    root = tmp_path_factory.mktemp("backtest_step")
    uri, artifacts = f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
                           "RISKOPS_MLFLOW_ARTIFACTS": artifacts, "RISKOPS_DATA": str(root / "data")}.items():
            mp.setenv(key, value)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        storage = Storage(str(root / "data"))
        land_and_preprocess(storage, cards_spec, START, DAYS)
        summary = retrain(storage, cards_spec, AS_OF, CONFIG, artifact_root=artifacts)
        client = MlflowClient()
        approve(client, NAME, summary.version)
        pinned = score.resolve_model(DS)
        for i in range(DAYS):
            score.score_day(storage, cards_spec, START + dt.timedelta(days=i), pinned)
        first = pinned.model
        weaker = RiskModel(first.pipeline, first.booster[:5], first.threshold, first.reference_bins, first.meta)
        with mlflow.start_run(experiment_id=client.get_experiment_by_name(f"riskops/{DS}").experiment_id) as run:
            model_uri, sha = registry.log_model(weaker, storage.read_parquet(layout.curated(DS, START)).head(5))
        registry.register_candidate(client, NAME, model_uri, run.info.run_id, {
            "riskops.model_sha256": sha, "riskops.report_sha256": hashlib.sha256(b"%PDF v2").hexdigest()})
        yield {"storage": storage, "summary": summary}
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_backtest_command_judges_the_champion_and_shadows_the_challenger(env, cards_spec, capsys) -> None:
    assert main(["backtest", "--dataset", DS, "--as-of", AS_OF.isoformat(), "--weeks", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{DS} version 1, weeks 2026-W37..2026-W38: " in out
    report = layout.backtest_report(DS, AS_OF)
    assert out.strip().endswith(f"report: {env['storage'].url(report)}")
    assert env["storage"].read_bytes(report).startswith(b"%PDF")
    assert "history: " in out and " weekly metrics on the versions' training runs" in out
    assert main(["history", "--dataset", DS, "--window", "backtest", "--statistic", "auc"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if " auc " in x]
    assert line.split()[:5] == ["backtest", AS_OF.isoformat(), "1", "auc", "0." + line.split()[4][2:]]

    result = weekly_backtest(env["storage"], cards_spec, AS_OF, 3)["result"]
    (version,) = result.versions
    assert version.development_auc == pytest.approx(env["summary"].metrics.auc)  # recorded with the model
    assert sum(version.development_band_rows.values()) == env["summary"].metrics.n
    assert version.performance.rows == sum(w.rows_matured for w in result.weeks) > 0
    shadow = result.challenger
    assert shadow is not None and shadow.version == "2" and shadow.rows == version.performance.rows
    assert shadow.production["auc"] == pytest.approx(version.performance.auc)
    assert shadow.challenger["auc"] < shadow.production["auc"]  # five trees rank worse than the whole model
    assert sum(cell["n"] for key, cell in shadow.swap.items() if "->" in key) == shadow.rows


def test_a_rerun_as_of_the_same_date_replaces_its_history_rows(env, cards_spec) -> None:
    from ml.monitor import backtest_history
    from ml.monitor.history import History

    history = History.open(f"sqlite:///{env['storage'].root}/history.db")
    first = weekly_backtest(env["storage"], cards_spec, AS_OF, 3, history=history)
    rows = history.read(DS)
    assert first["history_rows"] == len(rows) > 0
    assert {r.window_kind for r in rows} == {backtest_history.WEEK, backtest_history.WINDOW}
    assert {r.detail["as_of"] for r in rows} == {AS_OF.isoformat()}
    bands = [r for r in rows if r.statistic == "jeffreys_p"]
    assert bands and all(0 <= r.value <= 1 and r.feature for r in bands)
    weekly_backtest(env["storage"], cards_spec, AS_OF, 3, history=history)
    assert sorted(r.key for r in history.read(DS)) == sorted(r.key for r in rows)


def test_before_anything_matured_the_step_says_so(env, capsys) -> None:
    as_of = START + dt.timedelta(days=30)
    assert main(["backtest", "--dataset", DS, "--as-of", as_of.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"No matured rows as of {as_of}" in out
    assert "2026-W37 version 1: " in out and "rows not matured; estimated AUC" in out
    assert env["storage"].exists(layout.backtest_report(DS, as_of))


def test_bad_arguments_are_one_line_errors(env, capsys) -> None:
    assert main(["backtest", "--dataset", DS, "--as-of", AS_OF.isoformat(), "--weeks", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: weeks must be at least 1, not 0"


def test_the_reviewers_decisions_come_back_in_the_backtest(env, cards_spec, capsys) -> None:
    """A reviewer declines every row the policy sent to review on the first day (the model suggests approve on
    all of them: each is an override) and decides one row the policy approved (quarantined): the figures, the
    alert of a spec expecting at most 20 %, the run's file for the mail and the PDF's page."""
    import io

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pypdf import PdfReader

    from ml.monitor.backtest import record_version
    from ml.spec import OverrideRate

    storage = env["storage"]
    version = record_version(storage, DS, START)
    scores = pq.read_table(storage.open_read(layout.scores(DS, START, version)), columns=["id", "decision"])
    decision = scores.column("decision").cast("string")
    review = scores.filter(pc.equal(decision, "review")).column("id").to_pylist()
    approved = scores.filter(pc.equal(decision, "approve")).column("id").to_pylist()
    assert review and approved
    lines = [f"{i},{START},decline,Grace,affordability" for i in review] + [f"{approved[0]},{START},decline,Grace,x"]
    storage.write_bytes(f"{layout.reviews(DS, START + dt.timedelta(days=2))}/cases.csv",
                        (f"{cards_spec.id_column},application_date,decision,reviewer,reason\n" + "\n".join(lines)
                         + "\n").encode())
    spec = cards_spec.model_copy(update={"oversight": cards_spec.oversight.model_copy(update={
        "override_rate": OverrideRate(min=0.0, max=0.2, min_decided=1)})})
    out = weekly_backtest(storage, spec, AS_OF, 3, run_key="manual__reviews")
    o = out["result"].overrides
    assert o.overall.decided == o.overall.overridden == len(review) and o.overall.sent >= len(review)
    assert o.overall.override_rate == 1.0 and o.alerts and o.alerts[0] in out["result"].alerts
    assert (out["reviews"]["accepted"], out["reviews"]["quarantined"]) == (len(review), 1)
    run = storage.read_json(layout.backtest_run(DS, "manual__reviews"))
    assert run["overrides"]["overall"]["decided"] == len(review) and o.alerts[0] in run["alerts"]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(
        storage.read_bytes(out["report_key"]))).pages).split())
    assert "8. Reviewers' decisions" in text and o.alerts[0] in text
    assert main(["backtest", "--dataset", DS, "--as-of", AS_OF.isoformat(), "--weeks", "3"]) == 0
    assert (f"reviewers: {len(review)} of the {o.overall.sent} rows sent to review decided, override rate 100.0% "
            f"(reviews: {len(review)} accepted, 1 quarantined)") in capsys.readouterr().out


def test_mlflow_charts_read_each_backtest_week_as_its_iso_week(env, cards_spec) -> None:
    from ml.monitor.weekly_backtest import week_stamp

    # a year's turn: 2026-12-31 (Thursday) is in 2026-W53, 2027-01-04 starts 2027-W01
    assert week_stamp(dt.date(2026, 12, 31)) == (int(dt.datetime(2026, 12, 28, tzinfo=dt.timezone.utc).timestamp())
                                                 * 1000, 202653)
    assert week_stamp(dt.date(2027, 1, 4))[1] == 202701
    weekly_backtest(env["storage"], cards_spec, AS_OF, 3)
    client = MlflowClient()
    run_id = client.get_model_version(NAME, "1").run_id
    points = client.get_metric_history(run_id, "backtest.auc")
    weeks = {dt.date.fromisoformat(w) for w in ("2026-09-07", "2026-09-14")}  # the judged weeks' Mondays
    assert {p.step for p in points} == {202637, 202638}
    assert {p.timestamp for p in points} == {int(dt.datetime.combine(m, dt.time(), dt.timezone.utc).timestamp())
                                             * 1000 for m in weeks}
