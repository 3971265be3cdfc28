"""Training on small and sparse samples, as a new user onboarding a 1,300-row dataset would (the loans fixture of
docs/datasets.md): one line and exit 2, never a traceback and never a registered version, when a sample is too
small; the window's missing days said on the console, in the summary and on the report's first page; the
champion pointer moved in MLflow to a rejected version refused; a publication failing half-way leaves nothing."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient
from pypdf import PdfReader

from ml import layout
from ml.cli import main
from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.dates import business_days
from ml.governance import approvals, registry
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "loans"
SPEC = get_spec(FIXTURE, "loans")
DAYS = business_days(SPEC, dt.date(2026, 9, 1), dt.date(2026, 10, 14))  # the 30 business days of the file
AS_OF = "2026-11-13"  # the last day + the 30-day maturity lag: the window is exactly these 30 days
NAME = registry.model_name("loans")


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loans") / "data"
    storage = Storage(str(root))
    replay(storage, SPEC, DAYS[0], DAYS[-1])
    for day in DAYS:
        preprocess_day(storage, SPEC, day)
    return root


@pytest.fixture
def loans(landed: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch) -> Storage:
    """A copy of the preprocessed loans for one test, its spec in RISKOPS_SPECS, an empty MLflow store."""
    shutil.copytree(landed, tmp_path / "data")
    (tmp_path / "specs").mkdir()
    shutil.copy(FIXTURE / "loans.yaml", tmp_path / "specs")
    monkeypatch.setenv("RISKOPS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path / "specs"))
    return Storage(str(tmp_path / "data"))


def _forget(storage: Storage, days: list[dt.date]) -> None:
    """Days that were never preprocessed (their manifests gone): the window has gaps."""
    for day in days:
        storage.delete(layout.preprocess_manifest("loans", day))


def _train(*options: str) -> int:
    return main(["train", "--dataset", "loans", "--as-of", AS_OF, *options])


def _nothing_registered(storage: Storage) -> None:
    assert registry.versions(MlflowClient(), NAME) == []
    assert not storage.exists("candidates") and not storage.exists("runs/retrain")


def test_a_sparse_window_is_one_line_and_registers_nothing(loans, capsys):
    _forget(loans, DAYS[::2])  # 15 of the 30 days never preprocessed
    assert _train() == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "(left out: 15 days not preprocessed" in err
    _nothing_registered(loans)


def test_too_few_rows_in_a_sample_names_the_sample_its_counts_and_what_to_change(loans, capsys):
    assert _train("--window-days", "14", "--valid-days", "1", "--test-days", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: too little data to train on: the validation sample has ")
    for expected in ("negative outcomes, below training.min_rows 100: give validation more days (--valid-days, now 1)",
                     "the out-of-time test sample has ", "give the out-of-time test more days (--test-days, now 1)",
                     "or lower the minimums in the spec's training section (samples: train "):
        assert expected in err, expected
    _nothing_registered(loans)


def test_the_spec_sets_the_minimums(loans, tmp_path, capsys):
    spec = (FIXTURE / "loans.yaml").read_text()
    (tmp_path / "specs" / "loans.yaml").write_text(spec + "training: {min_positives: 45, min_rows: 50}\n")
    assert _train() == 2
    err = capsys.readouterr().err
    assert "the validation sample has 155 rows, 29 positive and 126 negative outcomes, below training.min_positives " \
           "45: give validation more days (--valid-days, now 4)" in err
    assert "the out-of-time test sample has 299 rows, 41 positive and 258 negative outcomes, below " \
           "training.min_positives 45: give the out-of-time test more days (--test-days, now 7)" in err
    assert "the train sample" not in err  # 90 positives: enough
    _nothing_registered(loans)


def test_missing_days_are_said_on_the_console_in_the_summary_and_on_the_first_page(loans, capsys):
    _forget(loans, DAYS[:2])
    assert _train() == 0
    out, err = capsys.readouterr()
    gap = ("2 of the window's 30 business days were not preprocessed and are missing from the development sample: "
           "2026-09-01, 2026-09-02")
    assert err == f"warning: {gap}\n"
    assert "out-of-time AUC 0." in out and "(95% CI 0." in out and "299 test rows, 41 positive" in out
    summary = loans.read_json(layout.candidate("loans", "1", "candidate.json"))
    assert summary["gaps"] == [gap]
    metrics = summary["metrics"]
    assert metrics["auc_low"] < metrics["auc"] < metrics["auc_high"] and metrics["auc_high"] - metrics["auc_low"] > 0.1
    first = " ".join(PdfReader(io.BytesIO(loans.read_bytes(summary["report_key"]))).pages[0].extract_text().split())
    assert f"Data window incomplete: {gap}." in first
    assert f"AUC 95% interval \u2014 {metrics['auc_low']:.4f}\u2013{metrics['auc_high']:.4f}" in first


def test_train_refuses_a_champion_pointer_moved_to_a_rejected_version(loans, capsys):
    assert _train() == 0
    client = MlflowClient()
    approvals.reject(client, NAME, "1", "Ada", "weak")
    client.set_registered_model_alias(NAME, "champion", "1")  # someone edits the pointer in MLflow
    capsys.readouterr()
    assert _train() == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {NAME} version 1 is the champion in MLflow (alias champion), but it was rejected "
                          "by Ada at ") and err.count("\n") == 1
    assert "nothing was trained (a candidate is compared with the champion that scores)" in err
    assert "scored" not in err.replace("that scores", "")
    assert [str(v.version) for v in registry.versions(client, NAME)] == ["1"]


def test_a_publication_failing_half_way_leaves_no_version(loans, capsys):
    stray = layout.candidate("loans", "1", "candidate.pdf")
    loans.write_bytes(stray, b"%PDF a file nobody should have put there")  # the report cannot be stored
    assert _train() == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "exists already and is never replaced" in err
    client = MlflowClient()
    assert registry.versions(client, NAME) == []  # version 1 was registered, then removed
    assert registry.alias_version(client, NAME, registry.CHALLENGER) is None
    assert loans.read_bytes(stray) == b"%PDF a file nobody should have put there"  # not ours: left alone
    assert not loans.exists(layout.candidate("loans", "1", "candidate.json"))
    assert not loans.exists(layout.retrain_run("loans", f"as_of={AS_OF}"))
    assert approvals.waiting_candidates(client, NAME) == []

    loans.delete(stray)
    assert _train() == 0  # the next try is a new version: MLflow never reuses a number
    assert [str(v.version) for v in registry.versions(client, NAME)] == ["2"]
    assert approvals.waiting_candidates(client, NAME) == ["2"]
