"""Reading spec files, which are untrusted input: bounded in size, nesting and values, refused in one line
naming the file and the problem; a dataset is a name, never a path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ml.errors import SpecError
from ml.spec.base import DATASET_NAME, MAX_DEPTH, MAX_NAME, MAX_SPEC_BYTES, shown
from ml.spec.dataset import DatasetSpec


class _SpecLoader(yaml.SafeLoader):
    """YAML's safe loader for untrusted spec files: no anchors or aliases (nine nested aliases expand to
    gigabytes) and collections nested at most MAX_DEPTH deep (the composer recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # types-pyyaml leaves Parser.peek_event untyped
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed in a "
                                              "spec: write the values out", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where, and what (PyYAML's own text spans several lines with a snippet)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
    return where + (" ".join((what or type(exc).__name__).split())[:200])


def _location(loc: tuple[Any, ...]) -> str:
    # a key of the file can be anything, long text included: name it the way values are shown
    return ".".join(str(p) if isinstance(p, int) or len(str(p)) <= 40 else shown(p) for p in loc) or "(top)"


def _invalid(exc: ValidationError, shown_at_most: int = 5) -> str:
    errors = exc.errors()
    problems = [f"{_location(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                for err in errors[:shown_at_most]]
    more = f"; and {len(errors) - shown_at_most} more" if len(errors) > shown_at_most else ""
    return "; ".join(problems) + more


def read_spec_text(path: Path) -> str:
    """The text of a spec file, refused when it is larger than MAX_SPEC_BYTES or not UTF-8."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)  # never more, whatever the file claims to be
    except FileNotFoundError as exc:
        raise SpecError(f"spec file not found: {path}") from exc
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from exc
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB; a dataset spec is a few kB of YAML")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate one spec file; errors name the file and the offending field on one line. A `file`
    source's relative path is taken from the spec file's folder. Spec files are untrusted: see MAX_* above."""
    try:
        data = yaml.load(read_spec_text(path), Loader=_SpecLoader)  # noqa: S506 - a safe loader, made stricter
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    except ValueError as exc:  # a value YAML cannot build, e.g. an integer of more than 4300 digits
        raise SpecError(f"{path}: not valid YAML: {' '.join(str(exc).split())[:120]}") from exc
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path}: invalid dataset spec: {_invalid(exc)}") from exc
    if spec.name != path.stem:
        raise SpecError(f"{path}: spec name '{spec.name}' must match the file name {shown(path.stem)}")
    src = spec.source
    if src is not None and src.kind == "file" and src.path and "://" not in src.path and not Path(src.path).is_absolute():
        local = str(path.parent.resolve() / src.path)
        spec = spec.model_copy(update={"source": src.model_copy(update={"path": local})})
    return spec


def spec_paths(specs_dir: Path) -> list[Path]:
    return sorted(specs_dir.glob("*.yaml"))


def load_specs(specs_dir: Path) -> tuple[dict[str, DatasetSpec], dict[str, str]]:
    """Every spec in a folder: the valid ones by dataset name, and the error of each invalid one."""
    specs, errors = {}, {}
    for path in spec_paths(specs_dir):
        try:
            specs[path.stem] = load_spec(path)
        except SpecError as exc:
            errors[path.stem] = str(exc)
    return specs, errors


def dataset_name(name: str) -> str:
    """`name` if it is a dataset's name: a spec file's name in the specs folder, never a path."""
    if not (isinstance(name, str) and len(name) <= MAX_NAME and re.fullmatch(DATASET_NAME, name)):
        raise SpecError(f"{shown(name)} is not a dataset name: lower-case letters, digits and '_', starting with a "
                        f"letter, at most {MAX_NAME} characters (the name of a spec file, not a path)")
    return name


def get_spec(specs_dir: Path, name: str) -> DatasetSpec:
    """The spec of the dataset `name` (a name, refused otherwise) from the specs folder."""
    path = specs_dir / f"{dataset_name(name)}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in spec_paths(specs_dir)) or "none"
        raise SpecError(f"unknown dataset '{name}' (no {path}); known datasets: {known}")
    return load_spec(path)
