"""A model version's technical file: the documentation a validator, an auditor or a supervisor reads (the nine
sections of EU AI Act Annex IV as credit-risk practice fills them).

The caller (`ml.governance.technical_file`) fills every section from what riskops holds and passes plain data in a
:class:`TechnicalFileData`: each section is a list of blocks (facts, a table, lines of text); this module only
lays them out with :mod:`reports.document`. Same data, same PDF bytes (reportlab's invariant mode fixes the
creation date and the document id; nothing here reads the clock).

Layout, A4 portrait: a title block with the version's identity, then one section per page (a long table
flows onto the next page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from reports import blocks
from reports.document import CONTENT_W, SANS, STYLES, Header, Metadata, esc, heading, pages, render
from reports.tables import table


@dataclass(frozen=True)
class Facts:
    """Labelled facts, one per row; labels in `mono` are shown in the monospace font (hashes, ids)."""

    pairs: list[tuple[str, str]]
    title: str = ""
    mono: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rows:
    """A table: its header and its rows of text cells (already formatted by the caller)."""

    header: list[str]
    rows: list[list[str]]
    title: str = ""
    widths: list[float] | None = None  # fractions of the page width; None: equal


@dataclass(frozen=True)
class Lines:
    """Sentences, as a bulleted list (or plain paragraphs with `bullets=False`)."""

    lines: list[str]
    title: str = ""
    bullets: bool = True


Block = Union[Facts, Rows, Lines]


@dataclass(frozen=True)
class Section:
    """One numbered section of the file."""

    number: int
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class TechnicalFileData:
    """Everything the technical file shows, computed and worded by the caller."""

    dataset: str
    model_name: str
    version: str
    run_id: str
    generated_at: str  # the registration's timestamp, given by the caller
    identity: list[tuple[str, str]]  # the title block's facts (version, run, hashes)
    sections: list[Section]


SECTION_TITLES = (
    "Intended purpose, users and decisions",
    "Data",
    "Features",
    "Design",
    "Validation",
    "Limitations",
    "Human oversight",
    "Monitoring plan",
    "Change log",
)


def _validate(data: TechnicalFileData) -> None:
    numbers = [s.number for s in data.sections]
    if numbers != list(range(1, len(SECTION_TITLES) + 1)):
        raise ValueError(f"a technical file has sections 1 to {len(SECTION_TITLES)} in order, got {numbers}")
    for s in data.sections:
        if not s.blocks:
            raise ValueError(f"section {s.number} ({s.title}) is empty")
        for b in s.blocks:
            if isinstance(b, Rows) and any(len(r) != len(b.header) for r in b.rows):
                raise ValueError(f"section {s.number}: a row of table {b.title or b.header[0]!r} does not match "
                                 "its header")


def _block(block: Block) -> list[Flowable]:
    out: list[Flowable] = [Paragraph(esc(block.title), STYLES["h2"])] if block.title else []
    if isinstance(block, Facts):
        out.append(blocks.key_value_table(block.pairs, mono=block.mono, key_width=44 * mm))
    elif isinstance(block, Rows):
        fractions = block.widths or [1 / len(block.header)] * len(block.header)
        rows = [block.header, *block.rows] if block.rows else [block.header, ["none"] + [""] * (len(block.header) - 1)]
        out.append(table(rows, [f * CONTENT_W for f in fractions], align_right_from=None,
                         extra=[("FONT", (0, 1), (-1, -1), SANS, 8, 10)]))
    else:
        style = STYLES["list"] if block.bullets else STYLES["body"]
        out += [Paragraph(esc(line), style, bulletText="\u2022" if block.bullets else None) for line in block.lines]
    out.append(Spacer(1, 4))
    return out


def _title_page(data: TechnicalFileData) -> list[Flowable]:
    return [Paragraph("Technical file", STYLES["title"]),
            Paragraph(esc(f"{data.model_name} version {data.version} \u00b7 dataset {data.dataset}"),
                      STYLES["subtitle"]),
            Spacer(1, 6),
            blocks.key_value_table(data.identity, mono=tuple(k for k, _ in data.identity if "SHA-256" in k
                                                             or "run" in k.lower()), key_width=44 * mm),
            Spacer(1, 8),
            Paragraph("Contents", STYLES["h2"]),
            *[Paragraph(esc(f"{s.number}. {s.title}"), STYLES["list"], bulletText=" ") for s in data.sections]]


def _section_maker(section: Section) -> Callable[[TechnicalFileData], list[Flowable]]:
    def make(_data: TechnicalFileData) -> list[Flowable]:
        story: list[Flowable] = [heading(f"{section.number}. {section.title}")]
        for block in section.blocks:
            story += _block(block)
        return story
    return make


def render_technical_file(data: TechnicalFileData) -> bytes:
    """The technical file as PDF bytes; identical data gives identical bytes."""
    _validate(data)
    story = pages(data, _title_page, *(_section_maker(s) for s in data.sections))
    metadata = Metadata(title=f"Technical file: {data.model_name} version {data.version}",
                        subject=f"Technical documentation of {data.model_name} version {data.version}",
                        keywords=("credit risk", "technical file", "model documentation", data.dataset))
    header = Header(title="Technical file \u00b7 model documentation", identity=data.model_name,
                    identity_suffix=f" \u00b7 version {data.version}",
                    # the dataset first: the footer is cut at its end to fit, and the run id can lose its tail
                    footer=f"Dataset {data.dataset} \u00b7 registered {data.generated_at} \u00b7 run {data.run_id}")
    return render(story, metadata, header)


__all__ = ["Facts", "Rows", "Lines", "Section", "TechnicalFileData", "SECTION_TITLES", "render_technical_file"]
