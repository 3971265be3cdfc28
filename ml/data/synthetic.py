"""Seeded generator of card transactions in the messy raw format processors deliver.

Each day is generated from its own seed (base seed + day), so any sub-range of days gives the same rows
as the full range: replaying a window is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

CATEGORIES = ["Épicerie", "Électronique", "Restauration", "Voyages", "Santé", "Mode", "Carburant", "Jeux en ligne"]
_CATEGORY_P = np.array([0.24, 0.10, 0.18, 0.07, 0.08, 0.15, 0.14, 0.04])
_CATEGORY_RISK = np.array([-0.6, 1.0, -0.4, 0.7, -0.5, 0.0, -0.3, 1.3])
COUNTRIES = ["FR", "ES", "DE", "IT", "PT", "BE", "OTHER"]
_COUNTRY_P = np.array([0.55, 0.12, 0.1, 0.08, 0.05, 0.05, 0.05])
OSES = ["android", "ios", "windows", "macos", "linux"]
CHANNELS = ["online", "pos", "atm"]


def _fmt_amount(value: float) -> str:
    text = f"{value:,.2f}"  # '1,234.56' -> '1.234,56'
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _calibrate(logits: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean predicted probability equal to `rate` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logits + mid)))).mean() > rate:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def generate_day(day: dt.date, rows: int, fraud_rate: float = 0.03, drift_start: dt.date | None = None,
                 drift_strength: float = 1.0, label_delay_days: int = 45, dirty_rate: float = 0.004,
                 seed: int = 7) -> pd.DataFrame:
    """One day of transactions as raw strings, plus `is_fraud` ('0'/'1') and `label_delay_days`."""
    rng = np.random.default_rng([seed, day.toordinal()])
    drift = drift_strength if drift_start is not None and day >= drift_start else 0.0
    n = rows
    category = rng.choice(len(CATEGORIES), n, p=_CATEGORY_P)
    channel = rng.choice(3, n, p=[0.45, 0.5, 0.05])
    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_P)
    # after the drift date, mobile Android traffic grows and tickets get bigger (a new merchant mix)
    os_p = np.array([0.35 + 0.25 * drift, 0.35 - 0.1 * drift, 0.18 - 0.1 * drift, 0.08 - 0.03 * drift, 0.04 - 0.02 * drift])
    os_idx = rng.choice(len(OSES), n, p=os_p / os_p.sum())
    dev_type = np.where(channel == 0, np.where(np.isin(os_idx, [0, 1]), "mobile", "desktop"), "terminal")
    dev_type = np.where((dev_type == "mobile") & (rng.random(n) < 0.1), "tablet", dev_type)
    trusted = rng.random(n) < 0.8 - 0.2 * drift
    amount = np.round(rng.lognormal(3.4 + 0.4 * drift, 1.0, n), 2)
    hour = np.where(rng.random(n) < 0.12, rng.integers(0, 6, n), rng.integers(6, 24, n))
    age = np.clip(rng.normal(42, 14, n).round(), 18, 95).astype(int)
    prime = rng.random(n) < 0.3

    logit = (0.55 * (np.log(amount) - 3.4) + _CATEGORY_RISK[category] + np.where(channel == 0, 0.9, -0.4)
             + np.where(trusted, -1.0, 0.9) + np.where(hour < 6, 0.8, 0.0) + np.where(country == 6, 1.0, 0.0)
             - 0.015 * (age - 42) - 0.3 * prime + rng.normal(0, 0.6, n))
    p = 1 / (1 + np.exp(-(logit + _calibrate(logit, fraud_rate))))
    fraud = rng.random(n) < p

    def cased(values: list[str], idx: np.ndarray) -> np.ndarray:
        base = np.array(values, dtype=object)[idx]
        style = rng.random(n)
        return np.where(style < 0.1, np.char.upper(base.astype(str)), np.where(style < 0.2, np.char.lower(base.astype(str)), base))

    device = [
        f"os:{o};type:{t};trusted:{int(tr)}" if k < 0.7 else f"trusted: {int(tr)} ;os:{o};type:{t}"
        for o, t, tr, k in zip(np.array(OSES)[os_idx], dev_type, trusted, rng.random(n), strict=True)
    ]
    frame = pd.DataFrame({
        "transaction_id": [f"TX{day:%Y%m%d}{i:06d}" for i in range(n)],
        "transaction_date": day.strftime("%d/%m/%Y"),
        "amount": [_fmt_amount(a) for a in amount],
        "merchant_category": cased(CATEGORIES, category),
        "channel": np.array(CHANNELS)[channel],
        "country": cased(COUNTRIES, country),
        "device": device,
        "is_prime": np.where(prime, "S", "N"),
        "customer_age": np.where(rng.random(n) < 0.02, "", age.astype(str)),
        "hour": hour.astype(str),
        "is_fraud": fraud.astype(int).astype(str),
        # chargebacks trickle in; a legitimate transaction is only known good once the window closes
        "label_delay_days": np.where(fraud, rng.integers(1, label_delay_days + 1, n), label_delay_days),
        "_date": day,  # the true day, even for rows whose date text gets corrupted below
    })
    return _make_dirty(frame, rng, dirty_rate)


def _make_dirty(frame: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    """Corrupt a few rows the way real feeds do, so quarantine sees realistic failures."""
    n = len(frame)
    picks = np.flatnonzero(rng.random(n) < rate)
    faults: list[tuple[str, Callable[[str], str] | None]] = [
        ("amount", lambda v: v.replace(",", ".") + ",5"),
        ("transaction_date", lambda v: "31/02/" + v[-4:]),
        ("merchant_category", lambda v: "Zoológico"),
        ("device", lambda v: v.replace(":", "=")),
        ("hour", lambda v: "25"),
        ("transaction_id", None),  # a duplicate of the previous transaction
    ]
    for i in picks.tolist():
        column, fault = faults[int(rng.integers(len(faults)))]
        at = cast(int, frame.columns.get_loc(column))  # the columns are unique
        if fault is None:
            if i > 0:
                frame.iat[i, at] = frame.iat[i - 1, at]  # type: ignore[assignment]  # stubs: get != set
        else:
            frame.iat[i, at] = fault(str(frame.iat[i, at]))
    return frame


def generate(start: dt.date, end: dt.date, rows_per_day: int = 1500, **params: Any) -> pd.DataFrame:
    """All days from start to end inclusive."""
    days = pd.date_range(start, end, freq="D").date
    return pd.concat([generate_day(d, rows_per_day, **params) for d in days], ignore_index=True)
