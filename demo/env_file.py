"""`make secrets`: the `.env` beside docker-compose.yaml with fresh random credentials, written once.

    python -m demo.env_file [PATH]      (default: .env at the repository's root)

docker-compose.yaml has no default credential (every secret is `${VAR:?...}`): this writes each of
demo.stack's SECRET_VARIABLES (and a Fernet key) as a new random value, in a file only its owner may read
(mode 0600, created so: never readable by others even for an instant). An existing file is never
overwritten: its secrets may already be in a database's volume, and new ones would lock the services out.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from demo.airflow_runtime import REPO
from demo.stack import fresh_credentials

HEADER = ("# written by `make secrets` (python -m demo.env_file): the credentials of docker-compose.yaml, random,\n"
          "# for this machine only. Never commit this file; keep a copy where the team keeps secrets.\n")


class EnvFileExists(FileExistsError):
    """The .env file is there already: it is kept as it is."""


def render(variables: dict[str, str]) -> str:
    """The .env text: one `NAME=value` a line (values are URL-safe tokens: no quoting needed)."""
    return HEADER + "".join(f"{name}={value}\n" for name, value in sorted(variables.items()))


def write_env_file(path: Path, variables: dict[str, str]) -> None:
    """Create `path` with mode 0600 holding `variables`; raise EnvFileExists if it exists (never overwrites)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise EnvFileExists(f"{path} exists: kept as it is (delete it first to make new secrets)") from exc
    with os.fdopen(fd, "w") as out:
        out.write(render(variables))
    os.chmod(path, 0o600)  # whatever the umask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.env_file", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=REPO / ".env")
    args = parser.parse_args(argv)
    try:
        write_env_file(args.path, fresh_credentials())
    except EnvFileExists as exc:
        print(f"make secrets: {exc}")
        return 0
    print(f"make secrets: wrote {args.path} (mode 0600): {len(fresh_credentials())} fresh credentials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
