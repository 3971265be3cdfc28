"""The technical file of a version (the loans fixture of docs/datasets.md, trained and promoted through
`python -m ml` on a real MLflow store): rendered at registration, stored beside the candidate PDF and in the run,
its hash tagged; every section filled from the run's own data; `python -m ml document` byte-identical, also for
an earlier version after later decisions; refusals in one line; a registration whose file cannot be stored
leaves no version. The model inventory of the same registry and a real history: champion, since, approvers, last
backtest and its alert, latest stability light, candidates waiting, next review and overdue."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from pypdf import PdfReader

from ml import layout
from ml.cli import main
from ml.data.preprocess import preprocess_day, read_manifest
from ml.data.replay import replay
from ml.dates import business_days
from ml.governance import registry, technical_file
from ml.governance.candidate import CandidateSummary, read_summary
from ml.monitor.history import History, Record
from ml.spec import get_spec
from ml.storage import Storage
from reports.technical_file import SECTION_TITLES, Facts, Lines, Rows, render_technical_file
from tests.pdf_layout import assert_clean

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "loans"
SPEC = get_spec(FIXTURE, "loans")
DAYS = business_days(SPEC, dt.date(2026, 9, 1), dt.date(2026, 10, 14))
AS_OF = "2026-11-13"
NAME = registry.model_name("loans")
DOCUMENTATION = """
documentation:
  intended_use: Estimate the probability that a consumer loan charges off, to support the credit decision.
  users: Loan officers and the credit risk team.
  decisions: Approve, refer or decline a loan application.
  owner: Head of lending risk
  contact: lending-risk@example.com
  review_period_days: 90
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Loans preprocessed; v1 trained and promoted by Ada, then v2 trained against it (one MLflow store)."""
    tmp = tmp_path_factory.mktemp("technical_file")
    storage = Storage(str(tmp / "data"))
    replay(storage, SPEC, DAYS[0], DAYS[-1])
    for day in DAYS:
        preprocess_day(storage, SPEC, day)
    (tmp / "specs").mkdir()
    shutil.copy(FIXTURE / "loans.csv", tmp / "specs")
    text = (FIXTURE / "loans.yaml").read_text().replace(  # more income never raises the PD
        "{name: annual_income, type: float, min: 0}", "{name: annual_income, type: float, min: 0, monotone: decreasing}")
    assert "monotone" in text
    (tmp / "specs" / "loans.yaml").write_text(text + DOCUMENTATION)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"RISKOPS_DATA": str(tmp / "data"), "RISKOPS_SPECS": str(tmp / "specs"),
                     "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
                     "RISKOPS_MLFLOW_ARTIFACTS": (tmp / "artifacts").as_uri(),
                     "RISKOPS_HISTORY_URL": f"sqlite:///{tmp / 'history.db'}"}.items():
            mp.setenv(k, v)
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        assert main(["train", "--dataset", "loans", "--as-of", AS_OF]) == 0
        assert main(["promote", "--dataset", "loans", "--version", "1", "--approver", "Ada", "--note", "fine"]) == 0
        assert main(["train", "--dataset", "loans", "--as-of", AS_OF]) == 0
        yield {"storage": storage, "specs": tmp / "specs", "tmp": tmp, "history": f"sqlite:///{tmp / 'history.db'}"}
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _summary(storage: Storage, version: str) -> CandidateSummary:
    return read_summary(storage, layout.candidate("loans", version, "candidate.json"))


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def _block(section, title: str):  # type: ignore[no-untyped-def]
    return next(b for b in section.blocks if b.title == title)


def test_stored_beside_the_report_in_the_run_and_hash_tagged(world):
    storage, client = world["storage"], MlflowClient()
    for version in ("1", "2"):
        summary = _summary(storage, version)
        pdf = storage.read_bytes(technical_file.key("loans", version))
        sha = hashlib.sha256(pdf).hexdigest()
        assert summary.technical_file_key == layout.candidate("loans", version, "technical_file.pdf")
        assert summary.technical_file_sha256 == sha == registry.tags(client, NAME, version)["technical_file_sha256"]
        logged = mlflow.artifacts.download_artifacts(
            run_id=summary.run_id, dst_path=str(world["tmp"] / f"dl{version}"),
            artifact_path=f"technical_file/{NAME}-v{version}-technical-file.pdf")
        assert Path(logged).read_bytes() == pdf
        assert len(PdfReader(io.BytesIO(pdf)).pages) >= 10  # a title page and a page per section at least


def test_each_section_is_filled_from_the_run(world):
    storage, client = world["storage"], MlflowClient()
    spec = get_spec(world["specs"], "loans")
    summary = _summary(storage, "2")
    data = technical_file.build(technical_file.gather(storage, client, spec, summary))
    assert [s.title for s in data.sections] == list(SECTION_TITLES)
    s1, s2, s3, s4, s5, s6, s7, s8, s9 = data.sections

    purpose = dict(s1.blocks[0].pairs)
    assert purpose["Intended use"] == spec.documentation.intended_use and purpose["Model owner"] == "Head of lending risk"
    assert purpose["Review period"].startswith("90 days") and len(s1.blocks) == 1  # nothing left blank

    manifests = [m.model_dump() for d in DAYS if (m := read_manifest(storage, "loans", d)) is not None]
    accounting = dict(_block(s2, "Sources, window and row accounting").pairs)
    clean, quarantined = sum(m["rows_clean"] for m in manifests), sum(m["rows_quarantined"] for m in manifests)
    assert accounting["Rows landed"].startswith(f"{clean + quarantined:,} = {clean:,} clean + {quarantined:,} "
                                                "quarantined")
    assert accounting["Data hash"] == summary.data_hash
    unknown = summary.data_accounting.unknown_outcomes
    assert unknown > 0 and f"{unknown:,} unknown" in accounting["Outcomes"]
    days = _block(s2, "Preprocess manifests of the window").rows
    assert [r[0] for r in days] == [d.isoformat() for d in DAYS] and days[0][4] == manifests[0]["input_sha256"]
    reasons = _block(s2, "Top quarantine reasons in the window").rows
    assert reasons and int(reasons[0][1].replace(",", "")) == max(
        sum(m["stats"]["reasons_by_column"].get(c, 0) for m in manifests) for c in {r[0] for r in reasons})

    features = {r[0]: r for r in _block(s3, "Model inputs").rows}
    assert set(features) == set(summary.features) and "earliest_credit_line" not in features  # dates: derived
    assert features["loan_amount"][1:3] == ["float", "500 to 40000"]
    assert features[summary.feature_importance[0][0]][5] == "1"
    (check,) = summary.monotone  # 23b's partial-dependence check of the constrained feature
    assert check.feature == "annual_income" and check.holds is True
    assert features["annual_income"][4] == "decreasing (holds)" and features["loan_amount"][4] == "none"
    income_missing = sum(m["stats"]["null_rate"]["annual_income"] * m["rows_clean"] for m in manifests) / clean
    assert features["annual_income"][3] == f"{income_missing:.2%}" and income_missing > 0

    params = client.get_run(summary.run_id).data.params
    booster = dict(map(tuple, _block(s4, "Booster parameters (the training run's MLflow parameters)").rows))
    assert booster["max_depth"] == params["xgb.max_depth"] and booster["eta"] == params["xgb.eta"]
    design = dict(_block(s4, "Algorithm and training").pairs)
    assert design["Threshold"].startswith(f"{summary.threshold:.4f} by fbeta: maximises F2")
    assert design["Trees"].startswith(params["best_iteration"])

    tested = {r[0]: r for r in _block(s5, "Out-of-time test").rows}
    m, c = summary.metrics, summary.champion_metrics
    assert tested["AUC"][1] == f"{m.auc:.4f} (95% CI {m.auc_low:.4f} to {m.auc_high:.4f})"
    assert tested["KS"][2] == f"{c.ks:.4f}" and summary.champion_version == "1"
    assert len(_block(s5, "Calibration by band (out-of-time test)").rows) == len(summary.calibration)
    assert "Score PSI" in _block(s5, "Stability against the champion").lines[0]
    card = summary.scorecard
    side = {r[0]: r for r in _block(s5, "Scorecard challenger").rows}
    assert side["AUC"][2].startswith(f"{card.scorecard.auc:.4f} (95% CI")
    assert side["KS"][1] == f"{card.xgboost.ks:.4f}"
    points = _block(s5, "Scorecard points (a row's points summed over its features give its score)").rows
    assert len(points) == len(card.points) > 0
    assert points[0] == [card.points[0].feature, str(card.points[0].bin),
                         f"{card.points[0].woe:.4f}", f"{card.points[0].points:.1f}"]

    limits = " ".join(s6.blocks[0].lines)
    assert "Wide interval" in limits and f"{unknown:,} matured rows had an unknown outcome" in limits
    assert "1 distinct approver(s)" in s7.blocks[0].lines[0] and "python -m ml halt --dataset loans" in \
        s7.blocks[0].lines[2]
    plan = {r[0]: r for r in s8.blocks[0].rows}
    assert plan["Score PSI, feature CSI"][2] == f"amber {spec.monitoring.psi.amber:g}, red {spec.monitoring.psi.red:g}"
    assert plan["Model review"][1] == "every 90 days"

    versions = {r[0]: r for r in _block(s9, "Versions of this dataset's model").rows}
    assert set(versions) == {"v1", "v2"} and "promoted by Ada" in versions["v1"][3]
    assert versions["v2"][3] == "registered"
    (event,) = _block(s9, "Champion history").rows
    assert event[1:4] == ["promoted", "1", "Ada"] and event[4] == "fine"

    text = _text(storage.read_bytes(technical_file.key("loans", "2")))
    for title in SECTION_TITLES:
        assert title in text
    assert "Head of lending risk" in text and manifests[-1]["input_sha256"][:40] in text.replace("\n", "")


def test_the_first_version_says_what_a_first_model_lacks(world):
    storage, client = world["storage"], MlflowClient()
    data = technical_file.build(technical_file.gather(storage, client, get_spec(world["specs"], "loans"),
                                                      _summary(storage, "1")))
    s5, s9 = data.sections[4], data.sections[8]
    assert "dataset's first model" in " ".join(b for blk in s5.blocks if isinstance(blk, Lines) for b in blk.lines)
    # v1's own file was rendered before its promotion: its change log holds only itself, undecided
    assert [r[0] for r in _block(s9, "Versions of this dataset's model").rows] == ["v1"]
    assert _block(s9, "Champion history").rows == []


def test_document_re_renders_byte_identical_also_after_later_decisions(world, capsys, tmp_path):
    storage = world["storage"]
    for version in ("1", "2"):  # v1 was promoted and v2 registered after v1's file was rendered
        out = tmp_path / f"v{version}.pdf"
        assert main(["document", "--dataset", "loans", "--version", version, "--out", str(out)]) == 0
        stored = storage.read_bytes(technical_file.key("loans", version))
        assert out.read_bytes() == stored
        printed = capsys.readouterr().out
        assert printed.count("\n") == 1 and "byte-identical to the one stored at registration" in printed
        assert hashlib.sha256(stored).hexdigest() in printed


def test_no_word_overlaps_another_or_leaves_the_page(world):
    """The technical file and the candidate report of both versions, as training stored them (the second against a
    champion), pass the layout checker on every page."""
    for version in ("1", "2"):
        for name in ("technical_file.pdf", "candidate.pdf"):
            assert_clean(world["storage"].read_bytes(layout.candidate("loans", version, name)), f"v{version} {name}")


def test_the_renderer_is_deterministic_and_refuses_incomplete_data(world):
    storage, client = world["storage"], MlflowClient()
    data = technical_file.build(technical_file.gather(storage, client, get_spec(world["specs"], "loans"),
                                                      _summary(storage, "2")))
    first = render_technical_file(data)
    assert first == render_technical_file(data)
    assert b"/CreationDate" not in first or b"D:20000101000000" in first  # reportlab's invariant date
    with pytest.raises(ValueError, match="sections 1 to 9"):
        render_technical_file(type(data)(**{**data.__dict__, "sections": data.sections[:8]}))
    broken = data.sections[1].__class__(2, "Data", [Rows(["a", "b"], [["only one"]], title="t")])
    with pytest.raises(ValueError, match="does not match its header"):
        render_technical_file(type(data)(**{**data.__dict__, "sections": [data.sections[0], broken,
                                                                          *data.sections[2:]]}))
    with pytest.raises(ValueError, match="is empty"):
        render_technical_file(type(data)(**{**data.__dict__, "sections": [
            data.sections[0].__class__(1, "x", []), *data.sections[1:]]}))
    assert isinstance(data.sections[0].blocks[0], Facts)


def test_refusals_in_one_line(world, capsys, tmp_path):
    storage = world["storage"]
    cases = [(["--version", "9"], "model 'riskops-loans' has no version 9"),
             (["--version", "abc"], "is not a model version"),
             (["--version", "1", "--out", str(tmp_path / "no" / "such" / "dir.pdf")], "cannot write")]
    for extra, message in cases:
        assert main(["document", "--dataset", "loans", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert main(["document", "--dataset", "no_such_dataset", "--version", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: ")

    key = technical_file.key("loans", "1")
    original = storage.read_bytes(key)
    storage.write_bytes(key, original.replace(b"riskops-loans", b"riskops-LOANS", 1))  # edited after registration
    try:
        assert main(["document", "--dataset", "loans", "--version", "1", "--out", str(tmp_path / "x.pdf")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "does not match the SHA-256 tagged at registration" in err
    finally:
        storage.write_bytes(key, original)

    spec_file = world["specs"] / "loans.yaml"
    text = spec_file.read_text()
    spec_file.write_text(text.replace("Head of lending risk", "Chief risk officer"))  # the spec changed since
    try:
        assert main(["document", "--dataset", "loans", "--version", "1", "--out", str(tmp_path / "y.pdf")]) == 1
        assert "DIFFERS from the one stored at registration" in capsys.readouterr().out
        assert "Chief risk officer" in _text((tmp_path / "y.pdf").read_bytes())
    finally:
        spec_file.write_text(text)


def test_a_version_without_a_technical_file_is_refused(world, capsys):
    storage = world["storage"]
    key = layout.candidate("loans", "2", "candidate.json")
    summary = storage.read_json(key)
    storage.write_json(key, {k: v for k, v in summary.items() if not k.startswith("technical_file")})
    try:
        assert main(["document", "--dataset", "loans", "--version", "2"]) == 2
        assert "has no technical file" in capsys.readouterr().err
    finally:
        storage.write_bytes(key, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())


def test_a_technical_file_that_cannot_be_stored_leaves_no_version(world, capsys):
    storage, client = world["storage"], MlflowClient()
    stray = technical_file.key("loans", "3")
    storage.write_bytes(stray, b"%PDF not ours")
    try:
        assert main(["train", "--dataset", "loans", "--as-of", AS_OF]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "exists already and is never replaced" in err
        assert [str(v.version) for v in registry.versions(client, NAME)] == ["1", "2"]
        assert not storage.exists(layout.candidate("loans", "3", "candidate.pdf"))
        assert not storage.exists(layout.candidate("loans", "3", "candidate.json"))
        assert storage.read_bytes(stray) == b"%PDF not ours"
    finally:
        storage.delete(stray)


def _inventory(capsys, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    assert main(["inventory", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_inventory_lists_the_champion_its_monitoring_and_its_review(world, capsys):
    client = MlflowClient()
    champion_since = registry.tags(client, NAME, "1")["promoted_at"]
    since = dt.datetime.fromisoformat(champion_since).date()
    history = History.open(world["history"])
    day, backtest = dt.date(2026, 10, 20), dt.date(2026, 11, 16)
    history.write([
        Record("loans", "1", "day", day - dt.timedelta(days=1), "overall", "", 0.0, "green"),
        Record("loans", "1", "day", day, "overall", "", 2.0, "amber"),
        Record("loans", "1", "backtest", backtest - dt.timedelta(days=7), "alert", "", 0.0, "green", {"alerts": []}),
        Record("loans", "1", "backtest", backtest, "alert", "", 1.0, "red", {"alerts": ["AUC dropped"]}),
        Record("loans", "2", "day", day + dt.timedelta(days=1), "overall", "", 0.0, "red"),  # not the champion's
    ])
    due = since + dt.timedelta(days=90)  # the spec's documentation.review_period_days
    (line,) = _inventory(capsys, "--as-of", due.isoformat())["models"]
    assert line | {"since": ""} == {
        "dataset": "loans", "model_name": NAME, "champion": "1", "since": "", "approved_by": "Ada",
        "last_backtest": backtest.isoformat(), "backtest_alert": "AUC dropped", "backtest_light": "red",
        "stability_light": "amber", "stability_day": day.isoformat(), "waiting": ["2"], "review_period_days": 90,
        "next_review": due.isoformat(), "overdue": False, "halted": "", "problem": ""}
    assert line["since"] == champion_since  # the champion history's line
    late = _inventory(capsys, "--as-of", (due + dt.timedelta(days=1)).isoformat())
    assert late["models"][0]["overdue"] is True and late["as_of"] == (due + dt.timedelta(days=1)).isoformat()

    assert main(["inventory", "--as-of", (due + dt.timedelta(days=1)).isoformat()]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["dataset", "champion", "since"]
    assert "v1" in table[1] and f"{due.isoformat()} OVERDUE" in table[1] and "ALERT AUC dropped" in table[1]
    assert "amber (2026-10-20)" in table[1] and "v2" in table[1]


def test_the_inventory_run_leaves_the_overdue_mail(world, capsys):
    since = dt.datetime.fromisoformat(registry.tags(MlflowClient(), NAME, "1")["promoted_at"]).date()
    late = (since + dt.timedelta(days=91)).isoformat()
    assert main(["inventory", "--as-of", late, "--run-key", "manual__x"]) == 0
    capsys.readouterr()
    run = world["storage"].read_json(layout.inventory_run("manual__x"))
    assert run["as_of"] == late and [m["champion"] for m in run["models"]] == ["1"]
    assert run["mail"]["subject"] == f"[riskops] 1 model review(s) overdue as of {late}"
    assert f"{NAME} v1" in run["mail"]["html"] and "Ada" in run["mail"]["html"]
    assert main(["inventory", "--as-of", since.isoformat(), "--run-key", "manual__y"]) == 0
    assert world["storage"].read_json(layout.inventory_run("manual__y"))["mail"] is None  # nothing overdue


def test_a_champion_pointer_edited_in_mlflow_is_listed_with_why(world, capsys):
    client = MlflowClient()
    assert main(["reject", "--dataset", "loans", "--version", "2", "--approver", "Ada", "--reason", "no"]) == 0
    capsys.readouterr()
    registry.set_alias(client, NAME, registry.CHAMPION, "2")  # a rejected version: it may not score
    try:
        (line,) = _inventory(capsys)["models"]
        assert line["champion"] == "" and "it is listed without a champion" in line["problem"]
        assert line["waiting"] == []
    finally:
        registry.set_alias(client, NAME, registry.CHAMPION, "1")
