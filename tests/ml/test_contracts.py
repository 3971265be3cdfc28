"""The typed step outputs read the files today's code writes (tests/fixtures/contracts, written by the code
before the contracts existed) and write them back unchanged; a file of another shape is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml import contracts
from ml.contracts import Contract
from ml.data.preprocess import PreprocessManifest
from ml.errors import RiskopsError
from ml.governance.candidate import CandidateSummary, RetrainPointer, roundtrip
from ml.governance.requests import CandidateRef, RollbackPlan, subject
from ml.scoring.manifests import FallbackManifest, ScoreManifest
from ml.storage import Storage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
CASES = [("candidate_first.json", CandidateSummary), ("candidate_with_champion.json", CandidateSummary),
         ("candidate_calibrated.json", CandidateSummary), ("retrain_pointer.json", RetrainPointer),
         ("preprocess_manifest.json", PreprocessManifest), ("preprocess_manifest_ignored.json", PreprocessManifest),
         ("preprocess_manifest_failed_gates.json", PreprocessManifest), ("score_manifest.json", ScoreManifest),
         ("score_manifest_hard_rules.json", ScoreManifest), ("fallback_manifest.json", FallbackManifest)]


@pytest.mark.parametrize(("name", "model"), CASES)
def test_a_file_written_before_the_contracts_reads_and_writes_back_the_same(tmp_path: Path, name: str,
                                                                          model: type[Contract]) -> None:
    storage = Storage(str(tmp_path))
    (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    read = contracts.read(storage, name, model)
    assert read.contract_version == 1  # no version in the file: the first shape
    contracts.write(storage, "again.json", read)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again.pop("contract_version") == 1
    assert again == json.loads((FIXTURES / name).read_text())
    assert contracts.read(storage, "again.json", model) == read


def test_the_summary_reads_back_as_stored() -> None:
    summary = contracts.parse(CandidateSummary, json.loads((FIXTURES / "candidate_with_champion.json").read_text()),
                              "fixture")
    assert roundtrip(summary) == summary and summary.psi_vs_champion is not None
    assert list(roundtrip(summary).psi_vs_champion.features) == sorted(summary.psi_vs_champion.features)


def test_a_manifest_without_quality_gates_passed() -> None:
    data = json.loads((FIXTURES / "preprocess_manifest.json").read_text())
    del data["quality"]
    assert contracts.parse(PreprocessManifest, data, "old").passed


@pytest.mark.parametrize("change", [{"rows_in": "many"}, {"unknown_key": 1}, {"outputs": None}])
def test_a_file_of_another_shape_is_one_clear_line(change: dict[str, object]) -> None:
    data = json.loads((FIXTURES / "preprocess_manifest.json").read_text()) | change
    with pytest.raises(RiskopsError) as caught:
        contracts.parse(PreprocessManifest, data, "manifests/preprocess/x/date=2026-09-16.json")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("manifests/preprocess/x/date=2026-09-16.json is not a valid "
                                                      "PreprocessManifest")
    assert next(iter(change)) in message


def test_a_key_written_only_when_it_has_a_value_stays_out_when_it_has_none() -> None:
    data = json.loads((FIXTURES / "fallback_manifest.json").read_text())
    manifest = contracts.parse(FallbackManifest, data, "fixture")
    assert contracts.to_json(manifest)["run_key"] == "nightly"
    assert "run_key" not in contracts.to_json(manifest.model_copy(update={"run_key": None}))


def test_a_gate_reads_a_candidate_or_a_rollback_from_its_xcom() -> None:
    summary = contracts.parse(CandidateSummary, json.loads((FIXTURES / "candidate_with_champion.json").read_text()),
                              "fixture")
    ref = subject(CandidateRef.of(summary).model_dump())
    assert isinstance(ref, CandidateRef) and (ref.model_name, ref.version) == (summary.model_name, summary.version)
    plan = RollbackPlan(dataset="cards", model_name="riskops-cards", version="1", champion="2", report_sha256="ab",
                        line=None, requested_by="Ada", reason="drift")
    read = subject(plan.model_dump())
    assert isinstance(read, RollbackPlan) and read == plan
    assert "the rollback of {model_name} to v{version}".format(**read.model_dump()) == \
        "the rollback of riskops-cards to v1"
