"""The README and docs stay true: the commands they give exist, every `python -m ml` example parses, links
resolve, and the README stays short enough to read in five minutes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ml.cli import STEPS, build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "docker" / "README.md"]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def _fenced_commands(text: str) -> list[str]:
    """`python -m ml …` lines of fenced code blocks, without their trailing comments."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return [re.sub(r"\s+#.*$", "", line.strip()).removeprefix(".venv/bin/")
            for line in lines if re.match(r"^\s*(\.venv/bin/)?python -m ml\b", line)]


def test_the_readme_commands_are_make_targets_and_ci_runs_the_test_command():
    readme = (REPO / "README.md").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))
    commands = re.findall(r"^make ([a-z-]+)", readme, re.M)
    assert {"demo", "test"} <= set(commands) and set(commands) <= targets
    assert re.search(r"^make test$", (REPO / ".ci" / "run").read_text(), re.M)


def test_the_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) < 150


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_cli_example_parses(doc, capsys):
    parser = build_parser()
    for command in _fenced_commands(doc.read_text()):
        # [--optional value] is shown in brackets: parse it as given
        argv = shlex.split(command.replace("[", "").replace("]", ""))[3:]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # --help exits 0; a bad example exits 2 with argparse's message
            assert exc.code == 0, f"{doc.name}: `{command}` does not parse: {capsys.readouterr().err}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_inline_commands_name_real_steps(doc):
    steps = {s.name for s in STEPS}
    for step in re.findall(r"`python -m ml ([^`\s]+)", doc.read_text()):
        assert step in steps or step in ("<step>", "…", "...", "--help"), f"{doc.name}: no step '{step}'"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    for target, _ in LINK.findall(doc.read_text()):
        if "://" not in target:
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
