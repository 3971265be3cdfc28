"""The mails a step leaves in storage for the Airflow side to send: halt and resume notices (`python -m ml halt`
/ `resume`), sent once each by `riskops_airflow.notify.send_oversight_notices`."""

from __future__ import annotations

from typing import ClassVar

from ml.contracts import Contract, Part


class MailText(Part):
    """A composed mail (`ml.mails`): subject and HTML."""

    subject: str
    html: str


class OversightNotice(Contract):
    """A halt or resume mail waiting to be sent (`sent_at` None), or sent (`sent_at`, `to`)."""

    omit_when_none: ClassVar[frozenset[str]] = frozenset({"to"})

    dataset: str
    event: str
    subject: str
    html: str
    sent_at: str | None = None
    to: list[str] | None = None
