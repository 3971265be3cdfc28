"""Reading raw files: records spanning too many lines are split back into lines, gzip is recognised by content."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from ml.data.preprocess import process_files
from ml.data.rawfile import read_records, unpack
from ml.errors import RawFileError
from ml.spec import Quality, get_spec

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fixtures" / "malformed"
SPEC = get_spec(REPO / "datasets", "card_transactions").model_copy(update={"quality": Quality(max_quarantine_rate=1)})
DAY = dt.date(2026, 9, 1)
HEADER = "transaction_id;transaction_date;amount;merchant_category;channel;country;device;is_prime;customer_age;hour"


def _row(i: int, device: str = "os:ios;type:mobile;trusted:1") -> str:
    return f'TX{i};01/09/2026;12,50;Mode;pos;FR;"{device}";N;39;15'


def test_an_unclosed_quote_no_longer_swallows_the_rest_of_the_file():
    """200 data lines, the 18th opens a quote that never closes (no later line has one): 200 rows in, 17 clean,
    183 quarantined; a CSV reader alone makes it 18 records, the last one swallowing 183 lines."""
    lines = [f"TX{i};01/09/2026;12,50;Mode;pos;FR;os:ios;N;39;15" for i in range(1, 201)]
    lines[17] = 'TX18;01/09/2026;12,50;Mode;pos;FR;"os:ios;N;39;15'
    data = ("\n".join([HEADER, *lines]) + "\n").encode()
    result = process_files([("batch.csv", data)], SPEC, DAY)
    m = result["manifest"]
    assert (m["rows_in"], m["rows_clean"], m["rows_quarantined"]) == (200, 17, 183)
    quarantine = result["quarantine"]
    assert quarantine["line"].tolist() == list(range(19, 202))  # each physical line, with its own number
    assert quarantine["raw"].tolist() == lines[17:]
    assert (quarantine["reason"] == "(row): part of a record spanning lines 19-201, more than the 1 the spec "
                                    "allows (raw.max_record_lines); an unclosed quote?").all()


def test_quoted_line_breaks_are_read_when_the_spec_allows_them():
    spec = SPEC.model_copy(update={"raw": SPEC.raw.model_copy(update={"max_record_lines": 2})})
    m = process_files([("q.csv", (CORPUS / "quoted_newline.csv").read_bytes())], spec, DAY)["manifest"]
    assert (m["rows_in"], m["rows_clean"], m["rows_quarantined"]) == (5, 3, 2)  # 'Épi\ncerie' and hour 24


def test_a_header_spanning_lines_is_unreadable():
    with pytest.raises(RawFileError, match=r"h.csv: the header spans lines 1-2 \(an unclosed quote\?\)"):
        read_records(b'id;"name\nx;y\n', SPEC.raw, "h.csv")


def test_gzip_is_recognised_by_its_bytes_whatever_the_name():
    data = ("\n".join([HEADER, _row(1), _row(2)]) + "\n").encode()
    packed = gzip.compress(data, mtime=0)
    assert unpack(packed, "x.csv") == (data, "gzip") and unpack(data, "x.csv") == (data, None)
    result = process_files([("a.csv.gz", packed), ("b.csv", gzip.compress(data.replace(b"TX", b"TY"), mtime=0))],
                           SPEC, DAY)
    m = result["manifest"]
    assert (m["rows_in"], m["rows_clean"]) == (4, 4)
    assert [(i["file"], i["compression"], i["bytes"]) for i in m["inputs"]] == [
        ("a.csv.gz", "gzip", len(packed)), ("b.csv", "gzip", len(packed))]
    with pytest.raises(RawFileError, match="c.csv.gz: gzip content that cannot be decompressed"):
        process_files([("c.csv.gz", packed[:-10])], SPEC, DAY)
