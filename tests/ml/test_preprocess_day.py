"""preprocess_day around the rows: every landing entry accounted for, completion markers and control files,
data-quality gates, re-runs that never leave a stale manifest, and leftovers of killed writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from ml import layout
from ml.data.landing import batch_complete
from ml.data.preprocess import preprocess_day, read_manifest
from ml.errors import MissingDataError, QualityGateError, RawFileError, RiskopsError
from ml.spec import Batch, Calendar, Quality, get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]
CARDS = get_spec(REPO / "datasets", "card_transactions")
DAY = dt.date(2026, 9, 1)
HEADER = "transaction_id;transaction_date;amount;merchant_category;channel;country;device;is_prime;customer_age;hour"


def _json(manifest):  # type: ignore[no-untyped-def]
    """A manifest as the JSON it is stored as (what these assertions were written against)."""
    return None if manifest is None else manifest.model_dump()


def rows(*ids: str, hour: str = "15") -> bytes:
    lines = [HEADER, *(f"{i};01/09/2026;12,50;Mode;pos;FR;os:ios;N;39;{hour}" for i in ids)]
    return ("\n".join(lines) + "\n").encode()


def land(storage: Storage, files: dict[str, bytes], day: dt.date = DAY) -> None:
    for name, data in files.items():
        storage.write_bytes(f"{layout.landing(CARDS.name, day)}/{name}", data)


def spec(**changes: object):
    return CARDS.model_copy(update=changes)


def test_every_landing_entry_is_read_or_listed_as_ignored(tmp_path):
    storage = Storage(str(tmp_path))
    land(storage, {"batch.csv": rows("TX1", "TX2"), "_part2.csv": rows("TX3"), ".hidden.csv": rows("TX4"),
                   "late/batch.csv": rows("TX5"), "_SUCCESS": b""})
    m = preprocess_day(storage, spec(batch=Batch(completion="success_file")), DAY).model_dump()
    assert [i["file"] for i in m["inputs"]] == ["batch.csv"] and m["rows_in"] == 2
    assert m["ignored"] == [
        {"name": ".hidden.csv", "reason": "a hidden file (name starts with '.')"},
        {"name": "_SUCCESS", "reason": "the batch's completion marker"},
        {"name": "_part2.csv", "reason": "a marker or side file (name starts with '_')"},
        {"name": "late/", "reason": "a subfolder: only files directly in the day's folder are read"}]
    assert storage.read_json(layout.preprocess_manifest(CARDS.name, DAY)) == m


def test_a_batch_with_a_success_marker_is_read_only_when_complete(tmp_path):
    storage, marked = Storage(str(tmp_path)), spec(batch=Batch(completion="success_file"))
    land(storage, {"batch.csv": rows("TX1")})
    assert not batch_complete(storage, marked, DAY) and batch_complete(storage, CARDS, DAY)
    with pytest.raises(MissingDataError, match=r"not complete yet: no _SUCCESS in .*date=2026-09-01"):
        preprocess_day(storage, marked, DAY)
    assert not (tmp_path / "manifests").exists()
    land(storage, {"_SUCCESS": b""})
    assert batch_complete(storage, marked, DAY)
    assert preprocess_day(storage, marked, DAY).rows_in == 1


def _control(files: dict[str, bytes], **rows_override: int) -> bytes:
    listed = {n: {"rows": rows_override.get(n.split(".")[0], d.count(b"\n") - 1),
                  "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}
    return json.dumps({"files": listed}).encode()


def test_a_control_file_must_match_what_landed(tmp_path):
    controlled = spec(batch=Batch(completion="control_file"))
    files = {"a.csv": rows("TX1", "TX2"), "b.csv": rows("TX3")}
    ok = Storage(str(tmp_path / "ok"))
    land(ok, {**files, "_CONTROL.json": _control(files)})
    assert preprocess_day(ok, controlled, DAY).rows_in == 3

    cases = {
        # the file is still being written: fewer bytes (and rows) than the control file says
        "truncated": ({"a.csv": files["a.csv"][:-20], "b.csv": files["b.csv"]}, _control(files),
                      r"a\.csv: SHA-256 [0-9a-f]{12}\.\.\. differs from the control file's"),
        "rows": (files, _control(files, a=5), "a.csv: 2 rows read, the control file says 5"),
        "missing": ({"a.csv": files["a.csv"]}, _control(files), "b.csv: listed in the control file but not landed"),
        "extra": ({**files, "c.csv": rows("TX9")}, _control(files), "c.csv: landed but not in the control file"),
        "garbled": (files, b"{rows: 3}", r"_CONTROL\.json: not a control file of the form"),
    }
    for case, (landed, control, message) in cases.items():
        storage = Storage(str(tmp_path / case))
        land(storage, {**landed, "_CONTROL.json": control})
        with pytest.raises(RawFileError, match=message):
            preprocess_day(storage, controlled, DAY)
        assert not (tmp_path / case / "manifests").exists() and not (tmp_path / case / "curated").exists(), case


def test_quality_gates_fail_the_day_after_writing_everything(tmp_path):
    storage = Storage(str(tmp_path))
    land(storage, {"batch.csv": rows("TX1", "TX2", "TX3", hour="25") + rows("TX4").split(b"\n", 1)[1]})
    with pytest.raises(QualityGateError) as failed:
        preprocess_day(storage, spec(quality=Quality(max_quarantine_rate=0.5, min_rows=10)), DAY)
    assert str(failed.value).startswith(
        "card_transactions 2026-09-01 failed its data-quality gate: 4 rows, fewer than the minimum 10 "
        "(quality.min_rows); 75.0% of 4 rows quarantined, above the maximum 50.0% (quality.max_quarantine_rate); "
        "top reasons: hour in 3 rows (e.g. hour: 25 is above the maximum 23); quarantine and manifest written (")
    m = _json(read_manifest(storage, CARDS.name, DAY))
    assert m is not None and m["quality"]["passed"] is False and len(m["quality"]["failures"]) == 2
    assert m["stats"]["top_reasons"] == [{"column": "hour", "rows": 3, "example": "hour: 25 is above the maximum 23"}]
    assert len(storage.read_parquet(layout.quarantine(CARDS.name, DAY))) == 3
    assert len(storage.read_parquet(layout.curated(CARDS.name, DAY))) == 1
    # within the gates the same day passes
    assert preprocess_day(storage, spec(quality=Quality(max_quarantine_rate=0.8)), DAY).passed


@pytest.mark.parametrize(("quarantined", "rows", "limit", "message"), [
    (1, 98, 0.01, "1.02% of 98 rows quarantined, above the maximum 1.00%"),  # once "1.0% ... above the maximum 1.0%"
    (10_001, 1_000_000, 0.01, "1.0001% of 1000000 rows quarantined, above the maximum 1.0000%"),
    (3, 4, 0.5, "75.0% of 4 rows quarantined, above the maximum 50.0%"),
])
def test_the_quality_gate_prints_enough_digits_to_tell_the_rates_apart(quarantined, rows, limit, message):
    from ml.data.preprocess import quality_failures

    assert quality_failures(rows, quarantined, spec(quality=Quality(max_quarantine_rate=limit))) == [
        f"{message} (quality.max_quarantine_rate)"]
    assert quality_failures(rows, int(limit * rows), spec(quality=Quality(max_quarantine_rate=limit))) == []


class ManifestWriteFails(Storage):
    """A storage whose process dies right before the preprocess manifest is written."""

    def write_json(self, rel: str, obj: object, once: bool = False) -> None:
        if rel.startswith("manifests/preprocess/"):
            raise SystemExit("killed before the manifest")
        super().write_json(rel, obj, once)


def test_a_rerun_dying_before_its_manifest_leaves_no_stale_manifest(tmp_path):
    storage = Storage(str(tmp_path))
    land(storage, {"batch.csv": rows("TX1")})
    first = preprocess_day(storage, CARDS, DAY).model_dump()
    land(storage, {"batch.csv": rows("TX1", "TX2")})  # a corrected delivery of the day
    with pytest.raises(SystemExit):
        preprocess_day(ManifestWriteFails(str(tmp_path)), CARDS, DAY)
    # the new curated file is there, the old manifest (one row, the old input hash) is not: the day is incomplete
    assert len(storage.read_parquet(layout.curated(CARDS.name, DAY))) == 2
    assert read_manifest(storage, CARDS.name, DAY) is None
    again = preprocess_day(storage, CARDS, DAY).model_dump()
    assert again["rows_in"] == 2 and again["input_sha256"] != first["input_sha256"]


def test_leftover_temporaries_of_killed_writers_are_removed(tmp_path):
    storage = Storage(str(tmp_path))
    land(storage, {"batch.csv": rows("TX1")})
    folder = Path(storage.path(layout.curated(CARDS.name, DAY))).parent
    folder.mkdir(parents=True)
    stale, live = folder / f".tmp-{'a' * 32}-part-0.parquet", folder / f".tmp-{'b' * 32}-part-0.parquet"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    preprocess_day(storage, CARDS, DAY)
    assert not stale.exists() and live.exists()  # a writer that may still be running keeps its file


def test_a_day_outside_the_calendar_is_refused(tmp_path):
    storage = Storage(str(tmp_path))
    saturday = dt.date(2026, 9, 5)
    land(storage, {"batch.csv": rows("TX1")}, saturday)
    weekdays = spec(calendar=Calendar(days="weekdays"))
    with pytest.raises(RiskopsError, match="2026-09-05 is not a business day of 'card_transactions'"):
        preprocess_day(storage, weekdays, saturday)


def test_the_sensor_s_questions_import_no_data_stack():
    import subprocess
    import sys

    code = ("import sys, ml.data.landing, ml.dates; "
            "print([m for m in ('pandas', 'numpy', 'pyarrow', 'mlflow') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
