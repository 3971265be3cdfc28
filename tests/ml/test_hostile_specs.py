"""Spec files are untrusted input (the DAG processor loads every one): each hostile spec of the corpus
(tests/fixtures/hostile_specs) is refused by `python -m ml datasets` with one line, exit 2, in bounded time and
memory; a dataset is a name, never a path; the synthetic generator's parameters are checked when the spec loads."""

from __future__ import annotations

import datetime as dt
import inspect
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ml.cli import main
from ml.data import synthetic
from ml.errors import SpecError
from ml.spec import MAX_SPEC_BYTES, SyntheticCards, get_spec, load_spec

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fixtures" / "hostile_specs"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text(encoding="utf-8"))
MEMORY = 1024 * 1024 * 1024  # address space of the subprocess: the alias bomb once took 12.4 GB
SECONDS = 20  # it took 101 s; a refused spec takes well under a second


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _datasets(specs: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ml", "datasets"], capture_output=True, text=True, timeout=SECONDS,
                          env={"PATH": "/usr/bin:/bin", "RISKOPS_SPECS": str(specs), "RISKOPS_HOME": str(specs)},
                          preexec_fn=_limited, cwd=REPO)
    return proc, time.monotonic() - started


def test_every_hostile_spec_has_an_expectation():
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix == ".yaml" and p.name != "EXPECTED.yaml"}
    assert on_disk == set(EXPECTED), "corpus files and EXPECTED.yaml entries differ"
    assert all(e.get("about") and e.get("error") for e in EXPECTED.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_spec_is_refused_in_one_line_fast_and_small(name, tmp_path):
    shutil.copy(CORPUS / name, tmp_path / name)
    proc, seconds = _datasets(tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"error: {tmp_path / name}: ") and proc.stderr.count("\n") == 1, proc.stderr[:2000]
    assert EXPECTED[name]["error"] in proc.stderr
    assert len(proc.stderr) < 800  # no value of the file is quoted at length
    assert seconds < 10


def test_a_spec_file_above_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * MAX_SPEC_BYTES + "\n")
    proc, _ = _datasets(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: larger than 256 KiB; a dataset spec is a few kB of YAML\n"


def test_a_hostile_spec_costs_only_itself(tmp_path):
    """The DAG processor's view: the valid specs still load beside every hostile one."""
    for name in EXPECTED:
        shutil.copy(CORPUS / name, tmp_path / name)
    shutil.copy(REPO / "datasets" / "card_transactions.yaml", tmp_path)
    proc, _ = _datasets(tmp_path)
    assert proc.returncode == 2
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == ["card_transactions"]
    assert proc.stderr.count("\n") == len(EXPECTED)


@pytest.mark.parametrize("name", ["../outside/evil", "/etc/passwd", "Card_Transactions", "a" * 65, "cards.yaml", ""])
def test_a_dataset_is_a_name_not_a_path(name, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text((REPO / "datasets" / "card_transactions.yaml").read_text()
                                       .replace("name: card_transactions", "name: evil"))
    specs = tmp_path / "specs"
    specs.mkdir()
    assert load_spec(outside / "evil.yaml").name == "evil"  # a valid spec, but not in the specs folder
    with pytest.raises(SpecError, match="is not a dataset name: lower-case letters, digits and '_'"):
        get_spec(specs, name)
    assert main(["stats", "--dataset", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a dataset name" in err and err.count("\n") == 1 and len(err) < 300


def test_synthetic_parameters_are_the_generators():
    """The spec checks exactly the parameters the generator takes (and rows_per_day), so the two cannot drift."""
    taken = [p for p in inspect.signature(synthetic.generate_day).parameters if p not in ("day", "rows")]
    assert sorted(SyntheticCards.model_fields) == sorted([*taken, "rows_per_day"])
    shipped = get_spec(REPO / "datasets", "card_transactions").source
    assert shipped is not None and shipped.params.arguments()["drift_start"].isoformat() == "2026-09-20"
    # the extreme values the spec allows still generate
    extreme = SyntheticCards(rows_per_day=50, drift_strength=1.5, label_delay_days=1, fraud_rate=0.5,
                             dirty_rate=1.0, seed=0, drift_start="2026-01-01")
    day = dt.date(2026, 1, 2)
    assert len(synthetic.generate(day, day, **extreme.arguments())) == 50
