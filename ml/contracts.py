"""What one step hands another through storage: a typed, versioned JSON file, read and written in one place.

Each contract is a `Contract` subclass defined beside the code that writes it (the preprocess manifest in
`ml.data.preprocess`, the score and fallback manifests in `ml.scoring.manifests`, the candidate summary and the
retrain pointer in `ml.governance.candidate`); every reader goes through that model, so a renamed key is a mypy
error in the readers rather than a KeyError in a task log.

`contract_version` says which shape a file has. Files written before the field existed have none and read
as version 1, the shape they had then; a later incompatible change raises the default and migrates older
versions in the model's own validator. (It is not called `version`: the candidate summary and the retrain
pointer already use that key for the model version.)
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, SerializerFunctionWrapHandler, ValidationError, model_serializer

from ml.errors import RiskopsError
from ml.storage import Storage


class Contract(BaseModel):
    """A step's output as stored: immutable, no unknown keys (a writer and its readers agree on every key).

    `omit_when_none` names optional keys that are left out of the file rather than written as null (keys the
    writers added only when they had a value, before the contracts existed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    omit_when_none: ClassVar[frozenset[str]] = frozenset()

    contract_version: int = 1

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        return {k: v for k, v in data.items() if not (v is None and k in self.omit_when_none)}


class Part(BaseModel):
    """A nested part of a contract: immutable, no unknown keys, no version of its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")


C = TypeVar("C", bound=Contract)

__all__ = ["Contract", "JsonValue", "Part", "parse", "read", "read_if_exists", "to_json", "write"]


def parse(model: type[C], data: object, where: str) -> C:
    """`data` (a decoded JSON file at `where`) as `model`; a file of another shape is one clear line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RiskopsError(f"{where} is not a valid {model.__name__} ({exc.error_count()} problem(s); first: {at}: "
                           f"{first['msg']}); re-run the step that writes it") from exc


def read(storage: Storage, key: str, model: type[C]) -> C:
    """The contract stored at `key`."""
    return parse(model, storage.read_json(key), storage.url(key))


def read_if_exists(storage: Storage, key: str, model: type[C]) -> C | None:
    """The contract stored at `key`, or None when there is no file."""
    return read(storage, key, model) if storage.exists(key) else None


def to_json(contract: Contract) -> dict[str, object]:
    """The plain JSON object a contract is stored as."""
    return contract.model_dump(mode="json")


def write(storage: Storage, key: str, contract: Contract, once: bool = False) -> None:
    """Store a contract at `key` (sorted keys, as every JSON file of the store); with `once`, write-once."""
    storage.write_json(key, to_json(contract), once=once)
