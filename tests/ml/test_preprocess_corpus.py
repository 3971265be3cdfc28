"""Every file of the malformed-input corpus (tests/fixtures/malformed) through preprocess_day, as one day of
card_transactions: the expected row counts or error, the row-accounting invariant, and nothing written on error."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ml import layout
from ml.data.preprocess import QUARANTINE_COLUMNS, preprocess_day
from ml.errors import RawFileError
from ml.spec import Quality, get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fixtures" / "malformed"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text(encoding="utf-8"))
# the corpus is about reading every row; its files are mostly bad rows, so the quality gate is off here
SPEC = get_spec(REPO / "datasets", "card_transactions").model_copy(update={"quality": Quality(max_quarantine_rate=1)})
DAY = dt.date(2026, 9, 1)
ERROR_FILES = sorted(n for n, e in EXPECTED.items() if "error" in e)
ROW_FILES = sorted(n for n, e in EXPECTED.items() if "error" not in e)


def _land(root: Path, *names: str) -> Storage:
    storage = Storage(str(root))
    for name in names:
        storage.write_bytes(f"{layout.landing(SPEC.name, DAY)}/{name}", (CORPUS / name).read_bytes())
    return storage


def _keys(storage: Storage) -> dict[str, str]:
    return {
        "curated": layout.curated(SPEC.name, DAY),
        "quarantine": layout.quarantine(SPEC.name, DAY),
        "manifest": layout.preprocess_manifest(SPEC.name, DAY),
    }


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _raw_to_bytes(raw: str) -> bytes:
    """Undo the \\xNN escaping of undecodable bytes (the corpus has no literal backslashes)."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw.encode("utf-8"))


def test_every_corpus_file_has_an_expectation():
    on_disk = {p.name for p in CORPUS.iterdir()
               if p.is_file() and p.name != "EXPECTED.yaml" and not p.name.startswith(".")}
    assert on_disk == set(EXPECTED), "corpus files and EXPECTED.yaml entries differ"
    for name, exp in EXPECTED.items():
        assert exp.get("about"), f"{name}: say what is wrong with the file"
        assert ("error" in exp) != ("rows_in" in exp), f"{name}: give either an error or row counts"


def test_corpus_covers_the_odd_bytes():
    """The files that need odd bytes really contain them (guards against an editor 'fixing' them)."""
    assert (CORPUS / "empty.csv").read_bytes() == b""
    assert (CORPUS / "utf8_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (CORPUS / "crlf.csv").read_bytes()
    assert b"\n" not in (CORPUS / "crlf.csv").read_bytes().replace(b"\r\n", b"")
    assert b"\xc9picerie" in (CORPUS / "latin1_category.csv").read_bytes()
    assert not (CORPUS / "truncated_last_line.csv").read_bytes().endswith(b"\n")
    assert b"\x00" in (CORPUS / "nul_byte.csv").read_bytes()
    assert (CORPUS / "utf16.csv").read_bytes().startswith(b"\xff\xfe")
    assert b"chann\xe9l;" in (CORPUS / "header_bad_bytes.csv").read_bytes()


def test_header_with_undecodable_bytes_is_escaped_not_fatal(tmp_path):
    """A garbled column name must neither crash the run nor lose rows: it reads as an unknown column."""
    manifest = preprocess_day(_land(tmp_path, "header_bad_bytes.csv"), SPEC, DAY).model_dump()
    (inp,) = manifest["inputs"]
    assert inp["extra_columns"] == ["chann\\xe9l"]
    assert inp["missing_optional_columns"] == ["channel"]
    assert manifest["stats"]["null_rate"]["channel"] == 1.0


@pytest.mark.parametrize("name", ROW_FILES)
def test_corpus_file_row_counts(tmp_path, name):
    exp = EXPECTED[name]
    storage = _land(tmp_path, name)
    manifest = preprocess_day(storage, SPEC, DAY).model_dump()

    assert manifest["rows_in"] == manifest["rows_clean"] + manifest["rows_quarantined"]
    assert (manifest["rows_in"], manifest["rows_clean"], manifest["rows_quarantined"]) == (
        exp["rows_in"], exp["rows_clean"], exp["rows_quarantined"])
    (inp,) = manifest["inputs"]
    assert inp["file"] == name and inp["rows"] == exp["rows_in"]
    if "blank_lines" in exp:
        assert inp["blank_lines"] == exp["blank_lines"]

    keys = _keys(storage)
    curated = storage.read_parquet(keys["curated"])
    quarantine = storage.read_parquet(keys["quarantine"])
    assert storage.read_json(keys["manifest"]) == manifest
    assert len(curated) == exp["rows_clean"]
    assert len(quarantine) == exp["rows_quarantined"]
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    got = dict(zip(quarantine["line"].tolist(), quarantine["reason"].tolist(), strict=True))
    want = exp.get("quarantine", {})
    assert sorted(got) == sorted(want), f"quarantined lines {sorted(got)}, expected {sorted(want)}"
    for line, fragment in want.items():
        assert fragment in got[line], f"line {line}: reason {got[line]!r} lacks {fragment!r}"
    assert (quarantine["source_file"] == name).all()
    assert (curated["business_date"] == pd.Timestamp(DAY)).all()
    assert (quarantine["business_date"] == pd.Timestamp(DAY)).all()
    if len(curated):  # a clean row's typed date is the day it was delivered for in this corpus
        assert (curated["transaction_date"] == pd.Timestamp(DAY)).all()
        assert curated["transaction_id"].is_unique


@pytest.mark.parametrize("name", ROW_FILES)
def test_quarantined_raw_is_the_original_record(tmp_path, name):
    data = (CORPUS / name).read_bytes()
    storage = _land(tmp_path, name)
    preprocess_day(storage, SPEC, DAY)
    quarantine = storage.read_parquet(_keys(storage)["quarantine"])
    lines = data.split(b"\n")
    for row in quarantine.itertuples():
        assert row.reason and row.reason.strip(), f"line {row.line}: empty reason"
        assert row.raw and not row.raw.endswith(("\r", "\n"))
        original = _raw_to_bytes(row.raw)
        assert original in data, f"line {row.line}: raw {row.raw!r} is not text of the input file"
        # ... and it is the text starting on the record's own line
        assert b"\n".join(lines[row.line - 1:]).startswith(original), f"line {row.line}: raw starts elsewhere"


@pytest.mark.parametrize("name", ERROR_FILES)
def test_corpus_error_file_writes_nothing(tmp_path, name):
    storage = _land(tmp_path, name)
    before = _all_files(tmp_path)
    with pytest.raises(RawFileError) as info:
        preprocess_day(storage, SPEC, DAY)
    assert EXPECTED[name]["error"] in str(info.value)
    assert name in str(info.value), "the message names the file"
    for key in _keys(storage).values():
        assert not storage.exists(key)
    assert not (tmp_path / "curated").exists()
    assert not (tmp_path / "quarantine").exists()
    assert not (tmp_path / "manifests").exists()
    assert _all_files(tmp_path) == before


def test_error_file_leaves_previous_outputs_untouched(tmp_path):
    storage = _land(tmp_path, "utf8_bom.csv", "duplicated_ids.csv")
    preprocess_day(storage, SPEC, DAY)
    keys = _keys(storage)
    previous = {k: storage.read_bytes(key) for k, key in keys.items()}
    mtimes = {k: os.stat(storage.path(key)).st_mtime_ns for k, key in keys.items()}

    _land(tmp_path, "header_missing_required.csv")  # a later delivery for the same day is unreadable
    before = _all_files(tmp_path)
    with pytest.raises(RawFileError, match="header_missing_required.csv: missing required columns: hour"):
        preprocess_day(storage, SPEC, DAY)
    assert {k: storage.read_bytes(key) for k, key in keys.items()} == previous
    assert {k: os.stat(storage.path(key)).st_mtime_ns for k, key in keys.items()} == mtimes
    assert _all_files(tmp_path) == before


def test_one_bad_file_fails_the_whole_day(tmp_path):
    storage = _land(tmp_path, *ROW_FILES, "file_wrong_delimiter.csv")
    with pytest.raises(RawFileError, match="file_wrong_delimiter.csv"):
        preprocess_day(storage, SPEC, DAY)
    assert not storage.exists(_keys(storage)["manifest"])
    assert not (tmp_path / "curated").exists()


def test_all_readable_files_in_one_day(tmp_path):
    """Many files for a day: rows add up per file; ids repeat across files, so later copies are duplicates."""
    storage = _land(tmp_path, *ROW_FILES)
    manifest = preprocess_day(storage, SPEC, DAY).model_dump()
    assert manifest["rows_in"] == sum(EXPECTED[n]["rows_in"] for n in ROW_FILES)
    assert manifest["rows_in"] == manifest["rows_clean"] + manifest["rows_quarantined"]
    assert [i["file"] for i in manifest["inputs"]] == ROW_FILES
    assert [i["rows"] for i in manifest["inputs"]] == [EXPECTED[n]["rows_in"] for n in ROW_FILES]
    keys = _keys(storage)
    curated = storage.read_parquet(keys["curated"])
    quarantine = storage.read_parquet(keys["quarantine"])
    assert curated["transaction_id"].is_unique
    assert len(curated) == manifest["rows_clean"] and len(quarantine) == manifest["rows_quarantined"]
    per_file = quarantine["source_file"].value_counts().to_dict()
    for name in ROW_FILES:  # a file never has fewer quarantined rows than alone (only cross-file duplicates add)
        assert per_file.get(name, 0) >= EXPECTED[name]["rows_quarantined"]
    assert set(quarantine["source_file"]) <= set(ROW_FILES)
    assert (quarantine["reason"].str.len() > 0).all()
