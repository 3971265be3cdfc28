"""A decision request's body, parsed within bounds: `{"applications": [{"id": "...", <raw columns>}, ...]}` with
1 to the spec's maximum applications, every value a string (spelled as in a landing file) or null, no field the
spec does not name. Every refusal is one line naming the problem; nothing here ever echoes more than a few dozen
characters of what the client sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ml.spec import DatasetSpec, shown

MAX_ID = 200  # characters of an application's id
MAX_VALUE = 1000  # characters of one field's text
ID = "id"


class BodyError(Exception):
    """A request refused before anything is decided: the HTTP status and one line for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Application:
    """One application as the client sent it: its id and its raw fields (column -> text, None for null)."""

    id: str
    fields: dict[str, str | None]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BodyError(400, f"malformed JSON: the key {shown(key)} appears twice in one object")
        seen[key] = value
    return seen


def parse_json(raw: bytes) -> Any:
    """The body as JSON; malformed text, a wrong encoding, duplicate keys or nesting Python cannot follow are
    refused (400)."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except BodyError:
        raise
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"the body is not UTF-8 text (byte {exc.start})") from exc
    except RecursionError as exc:
        raise BodyError(400, "malformed JSON: nested too deeply") from exc
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "not JSON"
        raise BodyError(400, f"malformed JSON: {first[:120]}") from exc


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def applications(body: Any, spec: DatasetSpec) -> list[Application]:
    """The applications of a parsed body, checked against the spec's raw columns and the request bounds (422)."""
    if not isinstance(body, dict):
        raise BodyError(422, f"the body must be an object {{\"applications\": [...]}}, not {_kind(body)}")
    unknown = sorted(set(body) - {"applications"})
    if unknown:
        raise BodyError(422, f"unknown field {shown(unknown[0])} in the body (only \"applications\")")
    items = body.get("applications")
    if not isinstance(items, list):
        raise BodyError(422, f"\"applications\" must be a list, not {_kind(items) if items is not None else 'missing'}")
    bound = spec.serving.max_applications
    if not 1 <= len(items) <= bound:
        raise BodyError(422, f"a request carries 1 to {bound} applications, not {len(items)}")
    columns = {c.name for c in spec.columns} - {spec.id_column}
    out, ids = [], set()
    for i, item in enumerate(items):
        where = f"application {i}"
        if not isinstance(item, dict):
            raise BodyError(422, f"{where} must be an object, not {_kind(item)} (nesting beyond application fields)")
        ident = item.get(ID)
        if not isinstance(ident, str) or not ident.strip() or len(ident) > MAX_ID:
            raise BodyError(422, f"{where}: \"id\" must be a non-blank string of at most {MAX_ID} characters")
        if ident in ids:
            raise BodyError(422, f"{where}: the id {shown(ident)} appears twice in the request")
        ids.add(ident)
        out.append(Application(ident, _fields(item, where, columns, spec.name)))
    return out


def _fields(item: dict[str, Any], where: str, columns: set[str], dataset: str) -> dict[str, str | None]:
    """An application's raw fields (text as in a landing file, or null), each a column of the dataset."""
    fields: dict[str, str | None] = {}
    for key, value in item.items():
        if key == ID:
            continue
        if key not in columns:
            raise BodyError(422, f"{where}: unknown field {shown(key)} (not a column of '{dataset}')")
        if value is not None and not isinstance(value, str):
            raise BodyError(422, f"{where}: {shown(key)} must be text as in a landing file (or null), not "
                                 f"{_kind(value)}")
        if value is not None and len(value) > MAX_VALUE:
            raise BodyError(422, f"{where}: {shown(key)} is longer than {MAX_VALUE} characters")
        fields[key] = value
    return fields
