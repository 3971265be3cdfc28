"""Split a raw delimited file into records while keeping each record's original text.

Nothing is dropped here: every non-blank record after the header comes out, whatever it contains, so the
validation step can account for it as clean or quarantined. A record spanning more physical lines than the
spec allows (an unclosed quote runs on) is split back into its lines, each one a record with its problem, so
the counts match the file. Gzip content is recognised by its bytes, whatever the file is called.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field
from typing import Iterator

from ml.errors import RawFileError
from ml.spec import RawFormat

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
    problems: list[str | None] = field(default_factory=list)  # found while reading (a record split back)
    blank_lines: int = 0

    def add(self, fields: list[str], raw: str, line: int, problem: str | None = None) -> None:
        self.fields.append(fields)
        self.raw.append(raw)
        self.lines.append(line)
        self.bad_encoding.append(_has_surrogates(raw))
        self.problems.append(problem)


GZIP_MAGIC = b"\x1f\x8b"


def unpack(data: bytes, name: str) -> tuple[bytes, str | None]:
    """A landed file's content and its compression: gzip is recognised by its first bytes (a `.gz` file, or gzip
    content named `.csv`); anything else is taken as it is."""
    if not data.startswith(GZIP_MAGIC):
        return data, None
    try:
        return gzip.decompress(data), "gzip"
    except (OSError, EOFError, zlib.error) as exc:
        raise RawFileError(f"{name}: gzip content that cannot be decompressed (truncated or corrupt?): {exc}") from exc


def show_raw(text: str) -> str:
    """Original record text with undecodable bytes shown as \\xNN escapes (lossless and printable)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").rstrip("\r\n")


def _lines_with_tracking(text: str, consumed: list[str]) -> Iterator[str]:
    # newline="" keeps line endings as they were, so the raw text of a record is exactly what was received
    for line in io.StringIO(text, newline=""):
        consumed.append(line)
        yield line


# byte order marks, longest first (UTF-32 LE starts like UTF-16 LE)
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32", "utf-32"), (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
         (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"), (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
         (codecs.BOM_UTF8, "UTF-8", "utf-8"))


def check_encoding(data: bytes, encoding: str, name: str) -> None:
    """Refuse a file whose byte order mark names another encoding than the spec's: decoded with the spec's, its
    header would read as garbage and the error would be about missing columns."""
    try:
        expected = codecs.lookup(encoding).name
    except LookupError as exc:
        raise RawFileError(f"{name}: unknown encoding '{encoding}' in the dataset spec") from exc
    for bom, shown, family in _BOMS:
        if data.startswith(bom):
            if not expected.startswith(family):
                raise RawFileError(f"{name}: the file is {shown} (it starts with a {shown} byte order mark), but the "
                                   f"spec's raw.encoding is '{encoding}'; ask for {encoding} files, or set "
                                   f"raw.encoding to {family}")
            return


def read_records(data: bytes, fmt: RawFormat, name: str) -> RawRecords:
    """Parse a file's bytes into records; raises RawFileError only when the file cannot be read at all."""
    check_encoding(data, fmt.encoding, name)
    try:
        text = data.decode(fmt.encoding, errors="surrogateescape")
    except LookupError as exc:  # a codec that is not a text encoding (specs refuse those when they load)
        raise RawFileError(f"{name}: '{fmt.encoding}' in the dataset spec is not a text encoding") from exc
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
            lines = list(consumed)
            line_no += len(consumed)
            consumed.clear()
            if not record or (len(record) == 1 and not record[0].strip() and not raw_text.strip()):
                out.blank_lines += 1
                continue
            if len(lines) > fmt.max_record_lines:
                if out.header is None:
                    raise RawFileError(f"{name}: the header spans lines {start}-{line_no} (an unclosed quote?)")
                _split_back(out, lines, start, fmt.max_record_lines)
                continue
            if out.header is None:
                # undecodable bytes in a column name are shown escaped (as in raw text): a name must be valid
                # text to become a column, and a garbled name then reads as an unknown or missing column
                out.header = [show_raw(h).strip() if _has_surrogates(h) else h.strip() for h in record]
                continue
            out.add(record, raw_text, start)
    except csv.Error as exc:
        raise RawFileError(f"{name}: cannot be parsed as delimited text near line {line_no + 1}: {exc}") from exc
    return out


def _split_back(out: RawRecords, lines: list[str], start: int, allowed: int) -> None:
    """A record spanning too many lines becomes one record per physical line, each with the problem."""
    end = start + len(lines) - 1
    problem = (f"(row): part of a record spanning lines {start}-{end}, more than the {allowed} the spec allows "
               "(raw.max_record_lines); an unclosed quote?")
    for i, line in enumerate(lines):
        if line.strip():
            out.add([], line, start + i, problem)
        else:
            out.blank_lines += 1


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
