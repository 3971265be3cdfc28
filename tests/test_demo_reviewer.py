"""The demo's scripted reviewer writes the reviews zone as a case tool would: every decision it exports is
accepted by the checks riskops applies to any bank's files, and the sample is seeded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from demo.reviewer import decide
from ml import layout
from ml.monitor.reviews import check_reviews
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import write_scored_day

REPO = Path(__file__).resolve().parents[1]
FIRST = dt.date(2026, 7, 1)


def test_the_scripted_reviewer_decides_a_seeded_sample_of_the_queue(tmp_path: Path) -> None:
    spec = get_spec(REPO / "datasets", "give_me_some_credit")
    storage = Storage(str(tmp_path))
    days = [FIRST + dt.timedelta(days=i) for i in range(3)]
    rng = np.random.default_rng(0)
    for i, day in enumerate(days):
        write_scored_day(storage, spec, day, "1", 1 / (1 + np.exp(-rng.normal(-2.2, 1.0, 1000))), first_id=1 + i * 1000)
    counts = decide(storage, spec, days)
    assert 0.5 * counts["queued"] < counts["decided"] < 0.8 * counts["queued"]
    reviews = check_reviews(storage, spec, FIRST + dt.timedelta(days=10))
    assert len(reviews.accepted) == counts["decided"] and reviews.counts()["quarantined"] == 0
    assert set(reviews.accepted["decision"]) == {"approve", "decline"}
    first = storage.read_bytes(f"{layout.reviews(spec.name, FIRST + dt.timedelta(days=1))}/decisions.csv")
    decide(storage, spec, days)  # the same seed: the same files
    assert storage.read_bytes(f"{layout.reviews(spec.name, FIRST + dt.timedelta(days=1))}/decisions.csv") == first
    share = (reviews.accepted["decision"] == "decline").mean()
    assert 0.15 < share < 0.35  # about a quarter declined: the demo's override rate inside the spec's 5-50 %
