"""Which version of a dataset's model may decide now: the one rule nightly scoring and the decision service share.

A version may decide only when it is the champion (or, for re-scoring, an explicit version that was approved
once), riskops registered it with its report, it was never rejected or superseded, it was approved, the report
hash it carries is the one its promotion recorded in the champion history, and the model is not halted. The
model files' SHA-256 is checked when the version loads (`load`); a mismatch refuses it. While the model is
halted no version decides: the spec's fallback policy does, or nothing (`ml.scoring.fallback`).

Batch scoring resolves with `sync=True`: a champion set directly in MLflow is written into its audit trail
first (`approvals.sync_champion`). The service polls every few seconds from several processes, so it reads
only (`sync=False`): a pointer moved directly in MLflow is served once a step that acts on it (the next scoring
run, `python -m ml champions`) has recorded it, and until then the old champion keeps serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflow import MlflowClient

from ml.errors import MissingDataError, RiskopsError
from ml.governance import approvals, champions, registry
from ml.governance.halt import Halt, halt_in_force

if TYPE_CHECKING:
    from ml.model.riskmodel import RiskModel

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Trusted:
    """The version that may decide a dataset now, with what the decision service shows about it; `version` is
    None when nothing was ever promoted. `halt` is the stop switch in force (then no version decides)."""

    dataset: str
    model_name: str
    version: str | None
    run_id: str = ""
    model_sha256: str = NOT_RECORDED
    report_sha256: str = ""
    since: str = ""  # when it became the champion (the champion history's line)
    approved_by: str = ""
    halt: Halt | None = None

    @property
    def may_load(self) -> bool:
        """Whether a model version decides (else the fallback policy, or nothing)."""
        return self.version is not None and self.halt is None


def halt_of(client: MlflowClient, dataset: str) -> Halt | None:
    """The halt in force on the dataset's model, or None."""
    return halt_in_force(client, registry.model_name(dataset))


def _check_report(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """The report hash the version carries must be one its promotions recorded (the champion history's lines for
    the version): a tag edited after the approval is refused."""
    recorded = {e.report_sha256 for e in champions.history(client, name)
                if e.version == version and e.action in champions.CHANGES and e.report_sha256}
    if recorded and tags.get("report_sha256") not in recorded:
        raise RiskopsError(f"{name} version {version} may not decide: its report SHA-256 "
                           f"({tags.get('report_sha256', 'none')[:12]}...) is not the one its promotion recorded "
                           f"({sorted(recorded)[0][:12]}...); it was changed in MLflow after the approval")


def resolve(client: MlflowClient, dataset: str, version: str | None = None, sync: bool = True,
            consequence: str = "nothing was scored") -> Trusted:
    """The version that may decide `dataset` (an explicit `version`: one approved once and never rejected).
    While the model is halted the champion is named, never checked or loaded. Refusals are RiskopsErrors
    naming the version and why."""
    name = registry.model_name(dataset)
    halt = halt_in_force(client, name) if version is None else None
    if version is None:
        if halt is not None:
            event = champions.current(client, name)
            return Trusted(dataset, name, event.version if event and event.version != champions.NONE else None,
                           since=event.at if event else "", approved_by=event.by if event else "", halt=halt,
                           report_sha256=event.report_sha256 if event else "")
        found = (approvals.sync_champion if sync else approvals.champion)(client, name, consequence)
        if found is None:
            raise MissingDataError(
                f"no Production model for '{dataset}' ({name}): approve a candidate first (DAG retrain_{dataset}, "
                f"task 'approval', or `python -m ml promote --dataset {dataset} --version N --approver NAME`); "
                f"{consequence}")
        version = found.version
    approvals.check_may_score(client, name, str(version))
    mv = registry.get_version(client, name, str(version))
    tags = {k.removeprefix(registry.TAG): v for k, v in mv.tags.items() if k.startswith(registry.TAG)}
    _check_report(client, name, str(version), tags)
    event = champions.current(client, name)
    ours = event is not None and event.version == str(mv.version)
    return Trusted(dataset, name, str(mv.version), run_id=str(mv.run_id),
                   model_sha256=tags.get("model_sha256", NOT_RECORDED), report_sha256=tags.get("report_sha256", ""),
                   since=event.at if ours and event else tags.get("champion_since", tags.get("promoted_at", "")),
                   approved_by=tags.get("approved_by", ""), halt=None)


def load(client: MlflowClient, trusted: Trusted) -> "RiskModel":
    """The trusted version's model, read as data; refused when its files do not match the SHA-256 recorded at
    registration (`registry.load_model`)."""
    if trusted.version is None:
        raise RiskopsError(f"{trusted.model_name} has no version that may decide")
    return registry.load_model(client, trusted.model_name, trusted.version)
