"""Per-client bearer tokens. The file named by RISKOPS_DECISION_TOKENS holds one `<client> <SHA-256 of the token
in hex>` per line (blank lines and `#` comments allowed), so it never holds a token itself. A request's token is
hashed and looked up; an unknown or missing token is refused (401) and nothing is recorded."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from ml.errors import RiskopsError

ENV = "RISKOPS_DECISION_TOKENS"
MAX_FILE = 1024 * 1024
_CLIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Tokens:
    """Token hash (hex) -> client name."""

    clients: dict[str, str]

    def client(self, authorization: str | None) -> str | None:
        """The client an `Authorization: Bearer <token>` header names, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if not token or len(token) > 512:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        for known, name in self.clients.items():  # constant time per entry: no early exit on a prefix
            if hmac.compare_digest(known, digest):
                return name
        return None


def hash_token(token: str) -> str:
    """The line's second field for a token (what an operator writes into the tokens file)."""
    return hashlib.sha256(token.encode()).hexdigest()


def load(path: Path) -> Tokens:
    """The tokens file, checked line by line; a bad line is refused naming its number (never its content)."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise RiskopsError(f"{ENV} file {path} is larger than {MAX_FILE} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskopsError(f"cannot read the decision tokens file {path} ({ENV}): {type(exc).__name__}") from exc
    clients: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _CLIENT.match(parts[0]) or not _HEX.match(parts[1].lower()):
            raise RiskopsError(f"{ENV} file {path}, line {number}: expected '<client name> <SHA-256 of the token in "
                               "hex>' (64 hex digits; the file never holds a token itself)")
        clients[parts[1].lower()] = parts[0]
    if not clients:
        raise RiskopsError(f"{ENV} file {path} names no client: every decision request would be refused")
    return Tokens(clients)
