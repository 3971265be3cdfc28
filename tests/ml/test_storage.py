"""Storage: atomic writes, listing rules, round trips, on a local folder and on an fsspec memory:// object store."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pandas as pd
import pytest

from ml import layout
from ml.data.preprocess import preprocess_day
from ml.errors import QualityGateError
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def memory_root():
    """A fresh bucket in fsspec's process-wide memory filesystem, removed afterwards."""
    root = f"memory://riskops-test-{uuid.uuid4().hex}/data"
    yield root
    storage = Storage(root)
    if storage.exists(""):
        storage.fs.rm(storage.path(""), recursive=True)


# ---------------------------------------------------------------- local folder


def test_atomic_write_leaves_no_temp_files(tmp_path):
    storage = Storage(str(tmp_path))
    for i in range(5):
        storage.write_bytes("a/b/file.bin", f"version {i}".encode())
        storage.write_bytes(f"a/b/other-{i}.bin", b"x")
    storage.write_json("a/b/m.json", {"k": 1})
    storage.write_parquet("a/b/p.parquet", pd.DataFrame({"x": [1]}))
    assert sorted(os.listdir(tmp_path / "a" / "b")) == sorted(
        ["file.bin", "m.json", "p.parquet"] + [f"other-{i}.bin" for i in range(5)])
    assert storage.read_bytes("a/b/file.bin") == b"version 4"


def test_overwrite_replaces(tmp_path):
    storage = Storage(str(tmp_path))
    storage.write_bytes("k/data.csv", b"old content that is longer than the new one\n")
    storage.write_bytes("k/data.csv", b"new\n")
    assert storage.read_bytes("k/data.csv") == b"new\n"
    assert (tmp_path / "k" / "data.csv").read_bytes() == b"new\n"
    assert _tree(tmp_path) == ["k/data.csv"]


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    storage = Storage(str(tmp_path))
    storage.write_bytes("k/data.csv", b"old\n")
    with pytest.raises(TypeError):
        storage.write_bytes("k/data.csv", "not bytes")  # type: ignore[arg-type]  # not bytes on purpose: fails after the temp is opened
    assert storage.read_bytes("k/data.csv") == b"old\n"
    assert _tree(tmp_path) == ["k/data.csv"]


def test_write_over_a_folder_fails_cleanly(tmp_path):
    storage = Storage(str(tmp_path))
    storage.write_bytes("k/target/inner.csv", b"x")
    with pytest.raises(OSError):
        storage.write_bytes("k/target", b"y")
    assert _tree(tmp_path) == ["k/target/inner.csv"]


def test_list_files_ignores_dot_and_underscore_files_and_folders(tmp_path):
    storage = Storage(str(tmp_path))
    for name in ["b.csv", "a.csv", ".tmp-123-a.csv", "_SUCCESS", ".hidden", "_started", "c.txt"]:
        storage.write_bytes(f"landing/ds/date=2026-09-01/{name}", b"x")
    storage.write_bytes("landing/ds/date=2026-09-01/sub/d.csv", b"x")
    assert storage.list_files("landing/ds/date=2026-09-01") == [
        "landing/ds/date=2026-09-01/a.csv", "landing/ds/date=2026-09-01/b.csv", "landing/ds/date=2026-09-01/c.txt"]
    assert storage.list_files("landing/ds/date=2026-09-01/") == storage.list_files("landing/ds/date=2026-09-01")
    assert storage.list_files("landing/ds/date=2026-09-02") == []
    assert storage.list_files("nowhere") == []
    assert storage.list_dirs("landing/ds") == ["date=2026-09-01"]
    assert storage.list_dirs("landing/ds/date=2026-09-01") == ["sub"]
    assert storage.list_dirs("nowhere") == []


def test_file_url_root_and_trailing_slash(tmp_path):
    for root in (f"file://{tmp_path}", f"{tmp_path}/"):
        storage = Storage(root)
        assert storage.local
        storage.write_bytes("z/one.csv", b"1")
        assert storage.list_files("z") == ["z/one.csv"]
        assert storage.read_bytes("z/one.csv") == b"1"
        assert Path(storage.url("z/one.csv")) == tmp_path / "z" / "one.csv"


def test_exists_and_delete(tmp_path):
    storage = Storage(str(tmp_path))
    storage.write_bytes("d/x/1.csv", b"1")
    storage.write_bytes("d/y.csv", b"1")
    assert storage.exists("d/x") and storage.exists("d/x/1.csv") and not storage.exists("d/nope")
    storage.delete("d/x")
    assert not storage.exists("d/x") and storage.exists("d/y.csv")
    storage.delete("d/x")  # deleting what is not there is fine


def test_parquet_round_trip_keeps_types(tmp_path):
    storage = Storage(str(tmp_path))
    frame = pd.DataFrame({
        "s": pd.Series(["a", None, "é"], dtype="string"),
        "i": pd.Series([1, None, 3], dtype="Int64"),
        "f": [1.5, float("nan"), -2.0],
        "b": pd.Series([True, None, False], dtype="boolean"),
        "d": pd.Series(pd.to_datetime(["2026-09-01", None, "2008-05-05"])).astype("datetime64[s]"),
    })
    storage.write_parquet("p/part-0.parquet", frame)
    back = storage.read_parquet("p/part-0.parquet")
    # parquet has no seconds unit: datetime64[s] is stored (and read back) as milliseconds, same instants
    assert str(back["d"].dtype) == "datetime64[ms]"
    pd.testing.assert_frame_equal(back.astype({"d": "datetime64[s]"}), frame)


def test_json_round_trip(tmp_path):
    storage = Storage(str(tmp_path))
    storage.write_json("m/x.json", {"b": 1, "a": [1, 2], "day": dt.date(2026, 9, 1)})
    assert storage.read_json("m/x.json") == {"a": [1, 2], "b": 1, "day": "2026-09-01"}
    text = storage.read_bytes("m/x.json").decode()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")


# ---------------------------------------------------------------- object store (fsspec memory://)


def test_memory_write_read_list(memory_root):
    storage = Storage(memory_root)
    assert not storage.local
    storage.write_bytes("landing/ds/date=2026-09-01/b.csv", b"bee")
    storage.write_bytes("landing/ds/date=2026-09-01/a.csv", b"ay")
    storage.write_bytes("landing/ds/date=2026-09-01/_SUCCESS", b"")
    storage.write_bytes("landing/ds/date=2026-09-01/.partial", b"")
    storage.write_bytes("landing/ds/date=2026-09-02/c.csv", b"see")
    assert storage.list_files("landing/ds/date=2026-09-01") == [
        "landing/ds/date=2026-09-01/a.csv", "landing/ds/date=2026-09-01/b.csv"]
    assert storage.list_dirs("landing/ds") == ["date=2026-09-01", "date=2026-09-02"]
    assert storage.list_files("landing/ds/date=2026-09-03") == []
    assert storage.read_bytes("landing/ds/date=2026-09-01/b.csv") == b"bee"
    assert storage.exists("landing/ds/date=2026-09-01")
    assert not storage.exists("landing/ds/date=2026-09-03")
    assert storage.url("landing/ds").startswith("memory://") and storage.url("landing/ds").endswith("/data/landing/ds")

    storage.write_bytes("landing/ds/date=2026-09-01/b.csv", b"bee v2")
    assert storage.read_bytes("landing/ds/date=2026-09-01/b.csv") == b"bee v2"
    storage.delete("landing/ds/date=2026-09-02")
    assert storage.list_dirs("landing/ds") == ["date=2026-09-01"]


def test_memory_parquet_and_json(memory_root):
    storage = Storage(memory_root)
    frame = pd.DataFrame({"x": pd.Series([1, None], dtype="Int64"), "y": pd.Series(["a", "b"], dtype="string")})
    storage.write_parquet("curated/p.parquet", frame)
    storage.write_json("manifests/m.json", {"rows": 2})
    pd.testing.assert_frame_equal(storage.read_parquet("curated/p.parquet"), frame)
    assert storage.read_json("manifests/m.json") == {"rows": 2}
    assert storage.list_files("curated") == ["curated/p.parquet"]


def test_memory_roots_are_isolated(memory_root):
    one, two = Storage(memory_root), Storage(memory_root + "-other")
    try:
        one.write_bytes("k/a.csv", b"1")
        assert two.list_files("k") == [] and not two.exists("k/a.csv")
    finally:
        two.delete("k")


def test_preprocess_day_on_memory_store(memory_root):
    """The whole day cycle works against an object-store style URL, not only a local folder."""
    spec = get_spec(REPO / "datasets", "card_transactions")
    day = dt.date(2026, 9, 1)
    storage = Storage(memory_root)
    for name in ("crlf.csv", "duplicated_ids.csv"):
        data = (REPO / "tests" / "fixtures" / "malformed" / name).read_bytes()
        storage.write_bytes(f"{layout.landing(spec.name, day)}/{name}", data)
    # half the rows are bad, far above the cards' quality gate: the day fails after everything is written
    with pytest.raises(QualityGateError, match="failed its data-quality gate"):
        preprocess_day(storage, spec, day)
    manifest = storage.read_json(layout.preprocess_manifest(spec.name, day))
    assert manifest["rows_in"] == 8 and manifest["rows_in"] == manifest["rows_clean"] + manifest["rows_quarantined"]
    assert manifest["quality"]["passed"] is False
    assert len(storage.read_parquet(manifest["outputs"]["curated"])) == manifest["rows_clean"]
    assert len(storage.read_parquet(manifest["outputs"]["quarantine"])) == manifest["rows_quarantined"]
