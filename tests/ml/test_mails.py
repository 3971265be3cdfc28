"""ml.mails composes every mail's words from plain data; cells are coloured as the PDFs colour their lights."""

from __future__ import annotations

from ml import mails
from ml.monitor.stability import Stat
from ml.spec import Monitoring
from reports.palette import LIGHT_BACKGROUNDS

WINDOW = {"model_version": "3", "kind": "day", "start": "2026-09-21", "end": "2026-09-21", "rows": 1200,
          "light": "red", "score_psi": 0.31, "score_light": "red", "red": ["amount"], "amber": []}


def test_the_alert_is_composed_from_window_summaries_and_feature_statistics():
    amount = mails.DriftingFeature("amount", (Stat("csi", "amount", 0.4, "red"),
                                              Stat("ks", "amount", 0.2, "red", {"p_value": 1e-9}), None), {"new": 3})
    mail = mails.stability_alert("cards", [WINDOW, {**WINDOW, "kind": "week", "light": "amber"}], WINDOW, [amount],
                                 Monitoring())
    assert mail.subject == ("[riskops] cards stability RED: 2 window(s) 2026-09-21 .. 2026-09-21; worst day "
                            "2026-09-21 (model v3): score PSI 0.3100, 1 drifting feature(s)")
    assert "<td>week of 2026-09-21</td>" in mail.html and "<td>1,200</td>" in mail.html
    assert f'<td style="background:{LIGHT_BACKGROUNDS["red"]}">0.2000 (p 1e-09) red</td>' in mail.html
    assert "<td>—</td><td>new (3)</td>" in mail.html  # no JS statistic, one unseen category
    assert f"cid:{mails.ALERT_CHART}" in mail.html


def test_the_weekly_report_mail_escapes_what_it_quotes():
    mail = mails.weekly_stability("cards", "2026-W38", "<3>")
    assert mail.subject == "[riskops] cards weekly stability report 2026-W38"
    assert "(model v&lt;3&gt;)" in mail.html
