"""Each process follows the champion on its own: a thread polls every dataset's trust state
(`ml.governance.trust.resolve`, read only) every few seconds. A new version is loaded beside the one serving,
its files checked against the recorded SHA-256, and made ready; then one reference (`current`, a whole new
mapping) is replaced, so a request that took the old mapping is decided wholly by the old version and the next
one wholly by the new. A halt switches to the spec's fallback policy (or to nothing: 503) at the next poll, a
resume back to the champion. A version that may not decide, fails to load or fails its hash check is refused in
one logged line, and what served before keeps serving."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from mlflow import MlflowClient

from ml.errors import RiskopsError
from ml.governance import trust
from ml.reasons import Dictionary
from ml.scoring.score import PinnedModel
from ml.serving.decide import Loaded
from ml.spec import DatasetSpec

log = logging.getLogger("riskops.serve")
POLL_SECONDS = 2.0


def _load(spec: DatasetSpec, trusted: trust.Trusted) -> Loaded:
    """What decides the dataset under `trusted`: the version loaded and verified (before anything swaps), or the
    fallback policy while halted."""
    if trusted.halt is not None or trusted.version is None:
        return Loaded(trusted, None, spec.oversight.fallback if trusted.halt is not None else None, None)
    pinned = PinnedModel(name=trusted.model_name, version=trusted.version, run_id=trusted.run_id,
                         model_sha256=trusted.model_sha256)
    scoring = pinned.scoring  # downloads, checks the files' SHA-256, prepares the boosters: all before the swap
    return Loaded(trusted, pinned, None, Dictionary.of(spec, scoring.model.pipeline.order))


class Follower:
    """The datasets' current deciders and the thread that keeps them current."""

    def __init__(self, specs: Mapping[str, DatasetSpec], client: MlflowClient, interval: float = POLL_SECONDS,
                 on_change: Callable[[str, Loaded], None] | None = None,
                 on_refusal: Callable[[str], None] | None = None) -> None:
        self.specs = dict(specs)
        self.client = client
        self.interval = interval
        self.current: Mapping[str, Loaded] = MappingProxyType({})
        self._on_change = on_change
        self._on_refusal = on_refusal
        self._stop = threading.Event()
        self._said: dict[str, str] = {}  # the last refusal logged per dataset: one line, not one per poll
        self._thread = threading.Thread(target=self._run, name="champion-follower", daemon=True)

    def poll(self) -> None:
        """One look at every dataset; swaps what changed."""
        for name, spec in self.specs.items():
            try:
                self._follow(name, spec)
            except Exception as exc:  # MLflow down, a refused or broken version: the old one keeps serving
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if not isinstance(exc, RiskopsError):
                    message = f"{type(exc).__name__}: {message}"
                if self._said.get(name) != message:
                    self._said[name] = message
                    before = self.current.get(name)
                    keeps = f"v{before.version}" if before is not None and before.pinned else (
                        before.policy if before is not None else "nothing")
                    log.warning("%s: refused (%s); %s keeps serving", name, message[:400], keeps)
                    if self._on_refusal is not None:
                        self._on_refusal(name)

    def _follow(self, name: str, spec: DatasetSpec) -> None:
        trusted = trust.resolve(self.client, name, sync=False, consequence="the service keeps what it serves")
        before = self.current.get(name)
        if before is not None and _same(before, trusted):
            if before.trusted != trusted:  # e.g. the champion's line changed: shown by /champion, nothing to load
                self._swap(name, Loaded(trusted, before.pinned, before.fallback, before.dictionary), quiet=True)
            return
        self._swap(name, _load(spec, trusted))

    def _swap(self, name: str, loaded: Loaded, quiet: bool = False) -> None:
        self.current = MappingProxyType({**self.current, name: loaded})  # one reference, replaced whole
        self._said.pop(name, None)
        if not quiet:
            log.warning("%s: now decided by %s", name, f"v{loaded.version}" if loaded.pinned else
                        f"{loaded.policy} policy ({trusted_halt(loaded)})")
            if self._on_change is not None:
                self._on_change(name, loaded)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()


def _same(before: Loaded, trusted: trust.Trusted) -> bool:
    """Whether what serves already matches the trust state (same version, same halt or none)."""
    if (before.trusted.halt is None) != (trusted.halt is None):
        return False
    if trusted.halt is not None:
        return True
    return before.pinned is not None and before.pinned.version == trusted.version


def trusted_halt(loaded: Loaded) -> str:
    halt = loaded.trusted.halt
    return halt.text() if halt is not None else "no champion"
