"""Property tests: whatever rows arrive under a valid header, process_files accounts for every one of them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.data.preprocess import process_files
from ml.data.rawfile import read_records
from ml.spec import get_spec

SPEC = get_spec(Path(__file__).resolve().parents[2] / "datasets", "card_transactions")
# the same spec allowing quoted line breaks (records over several lines); SPEC allows one line per record
MULTILINE = SPEC.model_copy(update={"raw": SPEC.raw.model_copy(update={"max_record_lines": 1000})})
DAY = dt.date(2026, 9, 1)
DELIM = SPEC.raw.delimiter
COLUMNS = [c.name for c in SPEC.columns]
HEADER = DELIM.join(COLUMNS)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS_LIGHT = settings(SETTINGS, max_examples=50)  # variations on the properties above, to keep the file fast

# Valid rows carry ids 'OK<n>'; random text never contains 'K', so it can never duplicate a valid row's id.
_SPECIAL = [DELIM, '"', "\n", "\r", "\r\n", " ", "\t", ",", ".", ":", "\x00", "\ufeff", "\u00a0", "\u2028",
            "NaN", "inf", "1e400", "Épicerie", "É", "os:ios", "\udcc9", "\udce9", "\udcff", "\udc80"]
_CHAR = st.one_of(st.characters(blacklist_characters="K", blacklist_categories=("Cs",)), st.sampled_from(_SPECIAL))
_TEXT = st.lists(_CHAR, max_size=12).map("".join)
_VALID_VALUES = {
    "transaction_date": st.sampled_from(["01/09/2026", "1/9/2026"]),
    "amount": st.sampled_from(["0", "12,50", "1.234,56", "999.999,99"]),
    "merchant_category": st.sampled_from(["Épicerie", "ÉPICERIE", "mode", "Jeux en ligne", "Santé"]),
    "channel": st.sampled_from(["online", "POS", "atm", ""]),
    "country": st.sampled_from(["FR", "es", "OTHER", ""]),
    "device": st.sampled_from(["os:ios;type:mobile;trusted:1", "trusted: 0 ;os:android;type:tablet", ""]),
    "is_prime": st.sampled_from(["S", "N", ""]),
    "customer_age": st.sampled_from(["18", "42", "110", ""]),
    "hour": st.sampled_from(["0", "12", "23"]),
}


@st.composite
def valid_row(draw):
    return ["OK"] + [draw(_VALID_VALUES[c]) for c in COLUMNS[1:]]  # the id is numbered later


random_row = st.lists(_TEXT, min_size=1, max_size=12)


def _number_ids(rows: list[list[str]], start: int = 0) -> tuple[list[list[str]], int]:
    """Copies of the rows with valid rows' ids made unique ('OK1', 'OK2', ...); returns them and the last number."""
    out = []
    for row in rows:
        if row[0] == "OK":
            start += 1
            row = [f"OK{start}"] + row[1:]
        out.append(row)
    return out, start


def _encode(text: str) -> bytes:
    """Text to file bytes; the lone surrogates \\udc80-\\udcff stand for bytes that are not valid UTF-8."""
    return text.encode("utf-8", "surrogateescape")


def _is_blank(data: bytes) -> bool:
    return not data.decode("utf-8", "surrogateescape").strip()


def _write_row(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=DELIM, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow(fields)
    return buf.getvalue()


def _accounting(result) -> tuple[int, int, int]:
    m = result["manifest"]
    assert m["rows_in"] == m["rows_clean"] + m["rows_quarantined"]
    assert len(result["curated"]) == m["rows_clean"]
    assert len(result["quarantine"]) == m["rows_quarantined"]
    assert result["quarantine"]["reason"].str.len().gt(0).all()
    return m["rows_in"], m["rows_clean"], m["rows_quarantined"]


@SETTINGS
@given(rows=st.lists(st.one_of(valid_row(), random_row), max_size=25), final_newline=st.booleans())
def test_quoted_rows_are_all_accounted_for(rows, final_newline):
    """Rows of arbitrary text (quotes, delimiters, newlines, invalid bytes) written as proper CSV records."""
    rows, n_valid = _number_ids(rows)
    chunks = [_encode(_write_row(r)) for r in rows]
    data = _encode(HEADER + "\r\n") + b"".join(chunks)
    if not final_newline and data.endswith(b"\r\n"):
        data = data[:-2]
    expected_records = sum(not _is_blank(c) for c in chunks)

    result = process_files([("batch.csv", data)], MULTILINE, DAY)
    rows_in, clean, _ = _accounting(result)
    assert rows_in == expected_records
    assert rows_in == len(read_records(data, MULTILINE.raw, "batch.csv").fields)
    # valid rows survive whatever surrounds them (random rows cannot carry an 'OK<n>' id)
    curated_ids = set(result["curated"]["transaction_id"])
    assert {f"OK{i}" for i in range(1, n_valid + 1)} <= curated_ids
    assert clean >= n_valid

    # one line per record allowed: a record over several lines counts once per non-blank line, each quarantined
    split = process_files([("batch.csv", data)], SPEC, DAY)
    rows_in, clean, _ = _accounting(split)
    lines = [_lines(c) for c in chunks if not _is_blank(c)]
    assert rows_in == sum(1 if len(ls) == 1 else sum(not _is_blank(x) for x in ls) for ls in lines)
    assert {f"OK{i}" for i in range(1, n_valid + 1)} <= set(split["curated"]["transaction_id"])
    spanning = split["quarantine"]["reason"].str.contains("part of a record spanning lines")
    assert spanning.sum() == sum(sum(not _is_blank(x) for x in ls) for ls in lines if len(ls) > 1)


def _lines(chunk: bytes) -> list[bytes]:
    """Physical lines of a record's text, as the reader counts them (\n, \r\n or \r end a line)."""
    return [_encode(x) for x in io.StringIO(chunk.decode("utf-8", "surrogateescape"), newline="")]


_FIELD_BYTES = st.one_of(
    st.binary(max_size=10),
    st.sampled_from([b"", b" ", b"\xc9picerie", b"\xff\xfe", b"\xef\xbb\xbf", b"NaN", b"-inf", b"12,50", b"OK",
                     b"\x00", b"\xc2\xa0", b"os:ios;type:mobile", b"\xe2\x80\xa8", b"\x1c"]),
).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"").replace(b'"', b""))
_LINE = st.lists(_FIELD_BYTES, min_size=1, max_size=12).map(lambda fields: DELIM.encode().join(fields))


@SETTINGS
@given(lines=st.lists(_LINE, max_size=30), crlf=st.booleans(), final_newline=st.booleans())
def test_raw_byte_lines_are_all_accounted_for(lines, crlf, final_newline):
    """Unquoted lines of arbitrary bytes: one record per non-blank line, quarantined with its own text."""
    eol = b"\r\n" if crlf else b"\n"
    data = HEADER.encode() + eol + eol.join(lines) + (eol if final_newline and lines else b"")
    result = process_files([("batch.csv", data)], SPEC, DAY)
    rows_in, _, _ = _accounting(result)

    records = {i + 2: line for i, line in enumerate(lines) if not _is_blank(line)}  # line numbers, header = 1
    assert rows_in == len(records)
    assert rows_in == result["manifest"]["inputs"][0]["rows"]
    # an empty last "line" with no newline after it is not a line at all
    lines_in_file = len(lines) - (1 if lines and lines[-1] == b"" and not final_newline else 0)
    assert result["manifest"]["inputs"][0]["blank_lines"] == lines_in_file - len(records)
    for q in result["quarantine"].itertuples():
        original = records[q.line]
        assert q.raw == original.decode("utf-8", "backslashreplace")
        assert q.source_file == "batch.csv"
        width = original.count(DELIM.encode()) + 1
        if width != len(COLUMNS):
            assert f"expected {len(COLUMNS)} fields, found {width}" in q.reason
        try:
            original.decode("utf-8")
        except UnicodeDecodeError:
            assert "not valid text" in q.reason


@SETTINGS
@given(body=st.binary(max_size=400))
def test_any_bytes_after_the_header_never_lose_a_row(body):
    """Completely arbitrary bytes (quotes and newlines included): the accounting holds and matches the reader."""
    data = HEADER.encode() + b"\n" + body
    result = process_files([("batch.csv", data)], SPEC, DAY)
    rows_in, _, _ = _accounting(result)
    records = read_records(data, SPEC.raw, "batch.csv")
    assert rows_in == len(records.fields) == len(records.raw)
    # every quarantined row's text is in the file (undecodable bytes aside, which are shown escaped)
    for raw in result["quarantine"]["raw"]:
        if "\\x" not in raw:
            assert raw.encode("utf-8") in data


@SETTINGS_LIGHT
@given(files=st.lists(st.lists(st.one_of(valid_row(), random_row), max_size=6), min_size=1, max_size=4))
def test_several_files_add_up(files):
    """A day of several files: rows in is the sum over files, and each input's row count is its own."""
    payloads, expected = [], []
    n = 0
    for f, rows in enumerate(files):
        rows, n = _number_ids(rows, n)
        chunks = [_encode(_write_row(r)) for r in rows]
        payloads.append((f"part-{f}.csv", _encode(HEADER + "\n") + b"".join(chunks)))
        expected.append(sum(not _is_blank(c) for c in chunks))
    result = process_files(payloads, MULTILINE, DAY)
    rows_in, _, _ = _accounting(result)
    assert rows_in == sum(expected)
    assert [i["rows"] for i in result["manifest"]["inputs"]] == expected
    assert set(result["quarantine"]["source_file"]) <= {name for name, _ in payloads}


_NAME_BYTES = st.binary(max_size=8).map(
    lambda b: b.replace(b"\n", b"").replace(b"\r", b"").replace(b'"', b"").replace(DELIM.encode(), b""))


@SETTINGS_LIGHT
@given(order=st.permutations(COLUMNS), extras=st.lists(_NAME_BYTES, max_size=3),
       rows=st.lists(valid_row(), min_size=1, max_size=5), data=st.data())
def test_header_order_and_odd_extra_columns(order, extras, rows, data):
    """Columns in any order plus extra columns whose names hold arbitrary bytes: valid rows all stay clean."""
    extra_names = [f"x{i}_".encode() + b for i, b in enumerate(extras)]
    header = DELIM.encode().join([c.encode() for c in order] + extra_names)
    lines = [header]
    for n, row in enumerate(rows, start=1):
        values = dict(zip(COLUMNS, [f"OK{n}"] + row[1:], strict=True))
        cells = [_write_row([values[c]]).rstrip("\r\n") for c in order]  # quoted where needed
        cells += [data.draw(st.sampled_from(["", "x", "é", '"a;b"'])) for _ in extra_names]
        lines.append(DELIM.join(cells).encode("utf-8"))
    result = process_files([("batch.csv", b"\n".join(lines) + b"\n")], SPEC, DAY)
    rows_in, clean, quarantined = _accounting(result)
    assert (rows_in, clean, quarantined) == (len(rows), len(rows), 0)
    assert len(result["manifest"]["inputs"][0]["extra_columns"]) == len(extras)
    assert result["manifest"]["inputs"][0]["missing_optional_columns"] == []
