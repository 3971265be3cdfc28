"""Careless or hostile command lines: links out of the on-demand area, free text that looks like an option, bad
versions and output names refused before MLflow is asked."""

from __future__ import annotations

import os

import pytest

from ml.cli import main

DS = "card_transactions"


def _score(*argv: str) -> int:
    return main(["score", "--dataset", DS, *argv])


@pytest.mark.parametrize(("links", "argv"), [
    ({"out": "outside"}, ["--input", "list.csv", "--output", "out/scores.csv"]),  # a folder link, for the output
    ({"in": "outside"}, ["--input", "in/secret.csv"]),  # and for the input
    ({"secret.csv": "outside/secret.csv"}, ["--input", "secret.csv", "--output", "s.csv"]),  # a file link
    ({"s.csv": "outside/victim.csv"}, ["--input", "list.csv", "--output", "s.csv"]),  # replacing a file out there
    ({"s.quarantine.csv": "outside/victim.csv"}, ["--input", "list.csv", "--output", "s.csv"]),  # its rejects
    ({"zone": "data/curated"}, ["--input", "list.csv", "--output", "zone/scores.csv"]),  # a zone of the root
])
def test_a_link_in_the_on_demand_area_carries_no_file_out_of_it(links, argv, data_root, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("AWS_SECRET_ACCESS_KEY=s3cr3t\n")
    (outside / "victim.csv").write_text("kept\n")
    ondemand = data_root / "ondemand"
    (data_root / "curated").mkdir(parents=True)
    ondemand.mkdir()
    (ondemand / "list.csv").write_text("transaction_id\nTX1\n")
    for name, target in links.items():
        os.symlink(tmp_path / target, ondemand / name)
    assert _score(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "leads outside ondemand/ of the storage root" in err
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv", "victim.csv"]
    assert (outside / "victim.csv").read_text() == "kept\n" and not any((data_root / "curated").iterdir())


def test_the_on_demand_folder_itself_may_not_be_a_link_elsewhere(data_root, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "list.csv").write_text("transaction_id\nTX1\n")
    data_root.mkdir()
    os.symlink(elsewhere, data_root / "ondemand")
    assert _score("--input", "list.csv") == 2
    assert "leads outside ondemand/" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["list.csv"]


def test_a_link_on_the_way_to_the_storage_root_is_fine(tmp_path, monkeypatch, capsys):
    """Only links under the zone count: a root reached through a link (a mounted volume) is the root."""
    real = tmp_path / "real"
    (real / "ondemand").mkdir(parents=True)
    os.symlink(real, tmp_path / "root")
    monkeypatch.setenv("RISKOPS_DATA", str(tmp_path / "root"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert _score("--input", "missing.csv") == 2  # past the link check: no champion to score with
    assert "no Production model" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["score", "--dataset", DS, "--date", "2026-09-01", "--model-version", "abc"],
    ["score", "--dataset", DS, "--date", "2026-09-01", "--model-version", "../../curated"],
    ["promote", "--dataset", DS, "--version", "abc", "--approver", "Ada"],
    ["reject", "--dataset", DS, "--version", "0", "--approver", "Ada", "--reason", "no"],
])
def test_a_version_that_is_not_a_number_is_refused_before_mlflow_is_asked(argv, data_root, monkeypatch, capsys):
    from tests.helpers import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nothing listens: asking fails
    monkeypatch.setenv("RISKOPS_HISTORY_URL", f"sqlite:///{data_root.parent / 'history.db'}")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: '") and "is not a model version: registered versions are whole numbers" in err
    assert err.count("\n") == 1 and "MLflow" not in err
