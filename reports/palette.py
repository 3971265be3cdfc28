"""Colours more than one output shows, as hex strings: the traffic-light backgrounds of PDF tables
(reports.document) and of alert mails (ml.mails). Standard library only, so a mail needs no PDF toolkit."""

from __future__ import annotations

LIGHT_BACKGROUNDS = {"green": "#C8E6C9", "amber": "#FFE0B2", "red": "#FFCDD2"}
# the charts' colours (reports.charts), which the monitoring view's SVG charts draw with too
NAVY = "#1F3A5F"
GOOD = "#2E8B57"
BAD = "#C0392B"
GRID = "#D9D9D9"
AMBER = "#E08E0B"  # reference lines of the traffic-light thresholds
