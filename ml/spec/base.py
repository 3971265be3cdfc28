"""What every part of a dataset spec shares: the limits that make an untrusted spec file cheap to refuse, the
strict base model, bounded text, and how a message quotes a value."""

from __future__ import annotations

import reprlib
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# Spec files are untrusted input: the DAG processor loads every one of them, so a hostile file must cost little.
MAX_SPEC_BYTES = 256 * 1024  # the shipped specs are 2-3 kB
MAX_DEPTH = 20  # nesting of YAML collections; a spec needs 6
MAX_TEXT = 200  # characters of any text value (a category, a rule, a format)
MAX_NAME = 64  # characters of a name (dataset, column, key, band)
MAX_DESCRIPTION = 2000
MAX_ITEMS = 1000  # entries of any list (columns, categories, holidays, rules)
DATASET_NAME = r"^[a-z][a-z0-9_]*$"
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxlevel = 40, 40, 4, 4, 2


def shown(value: Any) -> str:
    """A value as a message may quote it: its repr cut to a few dozen characters (a spec value can be long)."""
    text = _SHOW.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def normalize_text(value: str) -> str:
    """Strip accents, case-fold and collapse spaces: 'Épicerie  Fine' -> 'epicerie fine' (how a spec's categories
    are compared with the values of a file)."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _text(value: Any) -> Any:
    # YAML reads unquoted 0, 01, 1.5, yes and no as numbers or booleans, which would silently become other text
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not text: write it in quotes (YAML reads unquoted 0, 01, 1.5, yes and "
                         "no as numbers or true/false)")
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _encoding(name: str) -> str:
    import codecs

    try:
        if codecs.lookup(name)._is_text_encoding:
            return name
    except LookupError:
        pass
    raise ValueError(f"unknown text encoding {shown(name)} (e.g. utf-8, utf-16, latin-1, cp1252)")


Encoding = Annotated[str, AfterValidator(_encoding)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]



def bounded_list(default: Any = None, **limits: Any) -> Any:
    """A list field of at most MAX_ITEMS entries (`default` a factory, or None)."""
    if default is None:
        return Field(default=None, max_length=MAX_ITEMS, **limits)
    return Field(default_factory=default, max_length=MAX_ITEMS, **limits)


class SpecModel(BaseModel):
    # every text value of a spec is bounded here (names and descriptions by their own fields)
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=MAX_TEXT, allow_inf_nan=False)

    def _useless(self, allowed: set[str], what: str) -> None:
        """Keys that do nothing here are errors, not silently ignored (a key at its default value is harmless,
        so a dumped spec validates again)."""
        fields = type(self).model_fields
        extra = sorted(k for k in self.model_fields_set - allowed
                       if getattr(self, k) != fields[k].get_default(call_default_factory=True))
        if extra:
            raise ValueError(f"{', '.join(extra)} {'does' if len(extra) == 1 else 'do'} nothing on {what}")


