"""Human oversight of a dataset's models: the approval quorum, the fallback policy while a model is halted, the
reviewers' expected override rate, and the model's documentation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ml.config import MAX_QUORUM
from ml.spec.base import MAX_DESCRIPTION, SpecModel


class Fallback(SpecModel):
    """What decides while the dataset's model is halted (`python -m ml halt`): the policy's hard rules (when
    `hard_rules`), and `otherwise` for every row they do not decide. Nothing is approved without a model."""

    hard_rules: bool = True
    otherwise: Literal["review", "decline"] = "review"

    def describe(self) -> str:
        """The policy in words (the manifests, the mails, the CLI)."""
        return (f"hard rules, every other row to {self.otherwise}" if self.hard_rules
                else f"every row to {self.otherwise}")


class OverrideRate(SpecModel):
    """The range of reviewers' override rates (decided reviews against the model's suggestion) the risk team
    expects; outside it the weekly backtest alerts, once the window holds `min_decided` decided reviews."""

    min: float = Field(default=0.0, ge=0, le=1)
    max: float = Field(default=1.0, ge=0, le=1)
    min_decided: int = Field(default=30, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _check(self) -> "OverrideRate":
        if self.min > self.max:
            raise ValueError(f"oversight.override_rate: min {self.min:g} is above max {self.max:g}")
        return self


class Oversight(SpecModel):
    """Human oversight of the dataset's models: how many distinct approvers a promotion or a rollback needs (at
    least RISKOPS_APPROVAL_QUORUM), the fallback policy while the model is halted (none: scoring refuses), and
    the reviewers' override rate the backtest expects (none: shown, never an alert)."""

    approval_quorum: int = Field(default=1, ge=1, le=MAX_QUORUM)
    fallback: Fallback | None = None
    override_rate: OverrideRate | None = None

    def quorum(self, platform_minimum: int) -> int:
        """The approvals a decision needs: the spec may ask for more than the platform's minimum, never fewer."""
        return max(self.approval_quorum, platform_minimum)


class Documentation(SpecModel):
    """What the model is for, in the words of its owner: section 1 of each version's technical file, and the
    review period of the model inventory (the next review is due that many days after the champion's since-date)."""

    intended_use: str = Field(default="", max_length=MAX_DESCRIPTION)
    users: str = Field(default="", max_length=MAX_DESCRIPTION)  # who uses the model's decisions
    decisions: str = Field(default="", max_length=MAX_DESCRIPTION)  # which decisions it makes or supports
    owner: str = ""  # the accountable model owner (a person or a team)
    contact: str = ""  # where questions about the model go (an address)
    review_period_days: int = Field(default=365, ge=1, le=3660)

    def missing(self) -> list[str]:
        """The keys the spec leaves blank (the technical file says so rather than leave a hole)."""
        return [k for k in ("intended_use", "users", "decisions", "owner", "contact") if not getattr(self, k).strip()]

