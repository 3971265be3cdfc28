"""Model versions as the registry numbers them, in the one order every step lists and compares them."""

from __future__ import annotations


def version_key(version: str) -> tuple[int, int, str]:
    """Sort key of a model version: by number, so '10' comes after '9'. MLflow numbers every version; a name
    that is not a number (seen only in hand-made data) comes after the numbered ones, by its text."""
    text = str(version)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
