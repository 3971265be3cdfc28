"""Storage on a real S3 API (moto's server on loopback): atomic objects, re-runs that replace, listings that
page past a thousand keys and see what other processes wrote, credentials only from the environment."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import boto3
import pytest

from ml import layout
from ml.data.preprocess import preprocess_day
from ml.spec import Quality, get_spec
from ml.storage import Storage
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = f"test-secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a thread of this process; s3fs and boto3 find it through the environment."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "riskops",
                           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(key, value)
        yield endpoint
    server.stop()


@pytest.fixture
def bucket(s3_endpoint) -> str:
    name = f"riskops-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _keys(bucket: str, prefix: str = "") -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_writes_replace_objects_and_leave_no_temporaries(bucket):
    storage = Storage(f"s3://{bucket}/data")
    assert not storage.local
    storage.write_bytes("k/data.csv", b"old content that is longer than the new one\n")
    storage.write_bytes("k/data.csv", b"new\n")
    storage.write_json("k/m.json", {"rows": 2})
    local = REPO / "datasets" / "card_transactions.yaml"
    storage.put_file(str(local), "k/spec.yaml")
    storage.put_file(str(local), "k/spec.yaml")
    assert storage.read_bytes("k/data.csv") == b"new\n"
    assert storage.read_bytes("k/spec.yaml") == local.read_bytes()
    assert _keys(bucket) == ["data/k/data.csv", "data/k/m.json", "data/k/spec.yaml"]
    storage.delete("k")
    assert _keys(bucket) == [] and storage.list_files("k") == []


def test_listings_page_past_a_thousand_keys(bucket):
    """Years of daily manifests in one folder, and a labels zone with a folder per arrival day."""
    s3 = boto3.client("s3")
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(2500)]
    manifests = [f"data/{layout.preprocess_manifest('ds', d)}" for d in days]
    labels = [f"data/{layout.labels_file('ds', d, d - dt.timedelta(days=45))}" for d in days[:1100]]
    # seeded through moto's own backend (2,500 PUTs over HTTP take ~15 s); listed through the S3 API
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in manifests + labels:
        backend.put_object(bucket, key, b"{}")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="data/manifests/")["IsTruncated"], "one page is not enough"

    storage = Storage(f"s3://{bucket}/data")
    assert storage.list_files(layout.preprocess_manifests("ds")) == sorted(k.removeprefix("data/") for k in manifests)
    folders = storage.list_dirs(layout.labels_root("ds"))
    assert len(folders) == 1100 and folders == sorted(f"date={d.isoformat()}" for d in days[:1100])


def test_listings_see_what_other_processes_wrote(bucket):
    storage = Storage(f"s3://{bucket}/data")
    storage.write_bytes("landing/ds/date=2026-09-01/a.csv", b"a")
    assert storage.list_files("landing/ds/date=2026-09-01") == ["landing/ds/date=2026-09-01/a.csv"]
    assert not storage.exists("landing/ds/date=2026-09-02")
    # another process (a task, the landing job) writes and deletes behind this one's back
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="data/landing/ds/date=2026-09-01/b.csv", Body=b"b")
    s3.put_object(Bucket=bucket, Key="data/landing/ds/date=2026-09-02/c.csv", Body=b"c")
    assert storage.list_files("landing/ds/date=2026-09-01") == [
        "landing/ds/date=2026-09-01/a.csv", "landing/ds/date=2026-09-01/b.csv"]
    assert storage.exists("landing/ds/date=2026-09-02")
    assert storage.list_dirs("landing/ds") == ["date=2026-09-01", "date=2026-09-02"]
    s3.delete_object(Bucket=bucket, Key="data/landing/ds/date=2026-09-02/c.csv")
    assert storage.list_dirs("landing/ds") == ["date=2026-09-01"]


WRITER = textwrap.dedent("""
    import sys
    from ml.storage import Storage
    Storage(sys.argv[1]).put_file(sys.argv[2], sys.argv[3])
""")


def test_a_writer_killed_during_a_multipart_upload_leaves_the_old_object(bucket, tmp_path):
    """A large file (a day of scores) goes up in parts; until the upload completes readers see the old
    object, and a writer killed half way never publishes a partial one."""
    storage = Storage(f"s3://{bucket}/data")
    storage.write_bytes("scores/part-0.parquet", b"the previous run's complete file")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(110 * 2**20))  # above s3fs's 100 MiB single-PUT limit: 3 parts
    s3 = boto3.client("s3")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, storage.root, str(big), "scores/part-0.parquet"],
                              cwd=REPO, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            assert writer.poll() is None, "the upload finished before it could be interrupted"
            assert time.monotonic() < deadline, "no multipart upload started"
            time.sleep(0.02)
        writer.send_signal(signal.SIGSTOP)  # frozen half way: parts may be stored, the object is not
        assert storage.read_bytes("scores/part-0.parquet") == b"the previous run's complete file"
        writer.kill()
    finally:
        writer.kill()
        writer.wait()
    assert storage.read_bytes("scores/part-0.parquet") == b"the previous run's complete file"
    assert storage.list_files("scores") == ["scores/part-0.parquet"]
    # a completed re-run replaces it
    storage.put_file(str(big), "scores/part-0.parquet")
    assert s3.head_object(Bucket=bucket, Key="data/scores/part-0.parquet")["ContentLength"] == big.stat().st_size


def test_preprocess_day_twice_on_s3_replaces_its_outputs(bucket):
    # the files are mostly bad rows (the malformed corpus): the quality gate is off, this is about outputs
    spec = get_spec(REPO / "datasets", "card_transactions").model_copy(update={"quality": Quality(max_quarantine_rate=1)})
    day = dt.date(2026, 9, 1)
    storage = Storage(f"s3://{bucket}/data")
    for name in ("crlf.csv", "duplicated_ids.csv"):
        data = (REPO / "tests" / "fixtures" / "malformed" / name).read_bytes()
        storage.write_bytes(f"{layout.landing(spec.name, day)}/{name}", data)
    first = preprocess_day(storage, spec, day).model_dump()
    before = _keys(bucket)
    second = preprocess_day(storage, spec, day).model_dump()
    assert _keys(bucket) == before, "a re-run replaces its outputs, it adds none"
    assert {k: v for k, v in second.items() if k != "processed_at"} == {
        k: v for k, v in first.items() if k != "processed_at"}
    assert second["rows_in"] == second["rows_clean"] + second["rows_quarantined"]
