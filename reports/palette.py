"""Colours more than one output shows, as hex strings: the traffic-light backgrounds of PDF tables
(reports.document) and of alert mails (ml.mails). Standard library only, so a mail needs no PDF toolkit."""

from __future__ import annotations

LIGHT_BACKGROUNDS = {"green": "#C8E6C9", "amber": "#FFE0B2", "red": "#FFCDD2"}
