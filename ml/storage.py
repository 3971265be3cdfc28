"""The one place that touches stored files: a local folder or an object store URL, through fsspec.

Keys are relative to the root and built by `ml.layout`. pandas and pyarrow are imported only by the
parquet helpers, so a sensor that asks whether a batch landed stays light.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

if TYPE_CHECKING:
    import pandas as pd


def unreadable(url: str, exc: Exception) -> Exception:
    """The error for a stored parquet file that cannot be read (truncated, overwritten, not parquet)."""
    from ml.errors import RiskopsError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RiskopsError(f"{url} is not a readable parquet file ({first[:120]}); re-run the step that writes it")


@dataclass
class Storage:
    """Files under one root URL; every write is atomic (readers see the old file or the new one).

    On an object store (s3://) a write is one PUT, or a multipart upload that becomes visible only when it
    completes (s3fs aborts it on an error; a killed writer leaves an invisible incomplete upload, which a
    bucket lifecycle rule removes), so there are no temporary objects. Listings page through any number of
    keys (s3fs follows the continuation tokens).
    """

    root: str

    def __post_init__(self) -> None:
        # Other processes write to the same store all the time: fsspec's listing cache (on by default for
        # object stores) would keep showing this process an old listing, so every listing asks the store.
        self.fs, root_path = fsspec.core.url_to_fs(self.root, use_listings_cache=False)
        self._root_path = root_path.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    def path(self, rel: str) -> str:
        """Full path of a relative key, in the filesystem's own notation."""
        return f"{self._root_path}/{rel.lstrip('/')}"

    def url(self, rel: str) -> str:
        """Full URL of a relative key, for messages and for other tools."""
        return self.fs.unstrip_protocol(self.path(rel)) if not self.local else self.path(rel)

    def check_inside(self, rel: str, folder: str) -> None:
        """Refuse a key that leads out of `folder` (a zone of the root) through a symbolic link, of the file or
        of a folder on its way (local roots; object stores have no links). Run it right before opening."""
        if not self.local:
            return
        inside = os.path.join(os.path.realpath(self._root_path), folder) + os.sep
        if not os.path.realpath(self.path(rel)).startswith(inside):
            from ml.errors import RiskopsError

            raise RiskopsError(f"{self.url(rel)} leads outside {folder}/ of the storage root through a symbolic "
                               "link; links are not followed there")

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def list_files(self, rel: str) -> list[str]:
        """Relative keys of the files directly in a folder, sorted; empty when the folder does not exist."""
        base = self.path(rel)
        if not self.fs.exists(base):
            return []
        names = [p for p in self.fs.ls(base, detail=True) if p["type"] == "file"]
        prefix = self._root_path + "/"
        out = []
        for entry in names:
            full = self.fs._strip_protocol(entry["name"])
            name = full.rsplit("/", 1)[-1]
            if name.startswith((".", "_")):  # temporaries and markers are not data
                continue
            out.append(full[len(prefix):] if full.startswith(prefix) else f"{rel}/{name}")
        return sorted(out)

    def list_dirs(self, rel: str) -> list[str]:
        """Names of the sub-folders of a folder, sorted."""
        base = self.path(rel)
        if not self.fs.exists(base):
            return []
        return sorted(
            p["name"].rstrip("/").rsplit("/", 1)[-1]
            for p in self.fs.ls(base, detail=True)
            if p["type"] == "directory"
        )

    def read_bytes(self, rel: str) -> bytes:
        data: bytes = self.fs.cat_file(self.path(rel))
        return data

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write atomically: a temporary sibling renamed over the target (one PUT on object stores)."""
        target = self.path(rel)
        if not self.local:
            self.fs.pipe_file(target, data)  # an object PUT is already all-or-nothing
            return
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{os.path.basename(target)}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def write_once(self, rel: str, data: bytes) -> None:
        """Write a file that must never be replaced (a registered candidate's report); refuses an existing one."""
        if self.exists(rel):
            from ml.errors import RiskopsError

            raise RiskopsError(f"{self.url(rel)} exists already and is never replaced")
        self.write_bytes(rel, data)

    def open_read(self, rel: str) -> BinaryIO:
        """A binary file object for streaming reads (parquet row groups, large files)."""
        stream: BinaryIO = self.fs.open(self.path(rel), "rb")
        return stream

    def put_file(self, local_path: str, rel: str) -> None:
        """Publish a finished local file atomically (rename on a local root, one upload on an object store)."""
        target = self.path(rel)
        if not self.local:
            self.fs.put_file(local_path, target)
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = os.path.join(os.path.dirname(target), f".tmp-{uuid.uuid4().hex}-{os.path.basename(target)}")
        try:
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def delete(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.rm(self.path(rel), recursive=True)

    def write_json(self, rel: str, obj: Any, once: bool = False) -> None:
        """Write `obj` as JSON (sorted keys); with `once`, through write_once."""
        data = (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
        (self.write_once if once else self.write_bytes)(rel, data)

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def write_parquet(self, rel: str, frame: "pd.DataFrame") -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, compression="zstd")
        self.write_bytes(rel, buf.getvalue())

    def read_parquet(self, rel: str) -> "pd.DataFrame":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            frame: pd.DataFrame = pq.read_table(io.BytesIO(self.read_bytes(rel))).to_pandas()
            return frame
        except pa.ArrowException as exc:
            raise unreadable(self.url(rel), exc) from exc

    # ------------------------------------------------------------------ listing everything, tidying leftovers

    def list_entries(self, rel: str) -> list[tuple[str, str]]:
        """(name, "file" or "directory") of everything directly in a folder, markers and temporaries
        included, sorted by name; empty when the folder does not exist."""
        base = self.path(rel)
        if not self.fs.exists(base):
            return []
        return sorted((p["name"].rstrip("/").rsplit("/", 1)[-1], "directory" if p["type"] == "directory" else "file")
                      for p in self.fs.ls(base, detail=True))

    def remove_stale_temporaries(self, rel: str, older_than: float = 3600.0) -> list[str]:
        """Remove the temporaries a killed writer of `rel` left beside it (`.tmp-<hex>-<name>`, local roots
        only: object stores write in one PUT), if older than `older_than` seconds, so a live writer keeps its own."""
        if not self.local:
            return []
        folder, name = os.path.split(self.path(rel))
        if not os.path.isdir(folder):
            return []
        removed = []
        now = time.time()
        for entry in os.scandir(folder):
            if entry.name.startswith(".tmp-") and entry.name.endswith(f"-{name}") and entry.is_file() \
                    and now - entry.stat().st_mtime > older_than:
                os.remove(entry.path)
                removed.append(entry.name)
        return removed

    def remove_empty_folders(self, rel: str, up_to: str) -> None:
        """Remove the folder `rel` and then its parents, up to and including `up_to`, while they are empty
        (local roots; object stores have no folders)."""
        if not self.local:
            return
        folder, stop = self.path(rel), self.path(up_to)
        while folder.startswith(stop):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                pass
            except OSError:  # not empty: leave it and its parents
                return
            folder = os.path.dirname(folder)
