"""Split a raw delimited file into records while keeping each record's original text.

Nothing is dropped here: every non-blank record after the header comes out, whatever it contains, so the
validation step can account for it as clean or quarantined.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterator

from ml.data.spec import RawFormat
from ml.errors import RawFileError

_OTHER_DELIMITERS = [",", ";", "\t", "|"]
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class RawRecords:
    """The records of one file: fields, original text, and the line each record starts on."""

    name: str
    header: list[str] | None
    fields: list[list[str]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    bad_encoding: list[bool] = field(default_factory=list)
    blank_lines: int = 0


def show_raw(text: str) -> str:
    """Original record text with undecodable bytes shown as \\xNN escapes (lossless and printable)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").rstrip("\r\n")


def _lines_with_tracking(text: str, consumed: list[str]) -> Iterator[str]:
    # newline="" keeps line endings as they were, so the raw text of a record is exactly what was received
    for line in io.StringIO(text, newline=""):
        consumed.append(line)
        yield line


def read_records(data: bytes, fmt: RawFormat, name: str) -> RawRecords:
    """Parse a file's bytes into records; raises RawFileError only when the file cannot be read at all."""
    try:
        text = data.decode(fmt.encoding, errors="surrogateescape")
    except LookupError:
        raise RawFileError(f"{name}: unknown encoding '{fmt.encoding}' in the dataset spec") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    consumed: list[str] = []
    reader = csv.reader(
        _lines_with_tracking(text, consumed), delimiter=fmt.delimiter, quotechar=fmt.quotechar, strict=False
    )
    out = RawRecords(name=name, header=None)
    line_no = 0
    try:
        for record in reader:
            start = line_no + 1
            raw_text = "".join(consumed)
            line_no += len(consumed)
            consumed.clear()
            if not record or (len(record) == 1 and not record[0].strip() and not raw_text.strip()):
                out.blank_lines += 1
                continue
            if out.header is None:
                # undecodable bytes in a column name are shown escaped (as in raw text): a name must be valid
                # text to become a column, and a garbled name then reads as an unknown or missing column
                out.header = [show_raw(h).strip() if _has_surrogates(h) else h.strip() for h in record]
                continue
            out.fields.append(record)
            out.raw.append(raw_text)
            out.lines.append(start)
            out.bad_encoding.append(_has_surrogates(raw_text))
    except csv.Error as exc:
        raise RawFileError(f"{name}: cannot be parsed as delimited text near line {line_no + 1}: {exc}") from None
    return out


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_header(records: RawRecords, fmt: RawFormat, required: list[str]) -> None:
    """Fail clearly when the header lacks required columns, naming them (and a likely wrong delimiter)."""
    header = records.header or []
    # header text is quoted only where it names a spec column: a file that is not a batch (a secret, say)
    # must not end up in an error message or a task log
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        named = [d for d in dupes if d in required]
        raise RawFileError(f"{records.name}: duplicated column names in the header"
                           + (f": {', '.join(named)}" if named else f" ({len(dupes)} of them)"))
    missing = [c for c in required if c not in header]
    if not missing:
        return
    hint = ""
    if len(header) == 1:
        for other in _OTHER_DELIMITERS:
            if other != fmt.delimiter and other in header[0]:
                hint = f" (the header looks '{other}'-separated; the spec says '{fmt.delimiter}')"
                break
    raise RawFileError(f"{records.name}: missing required columns: {', '.join(missing)}{hint}; the header has "
                       f"{len(header)} field(s)")
