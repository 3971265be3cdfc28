"""The decision service's parts without a server: the tokens file and its refusals, the request body's bounds,
validation of applications with the quarantine's words (an int id sent as "0001" stays the application's), the
spec's `serving:` bounds, the metrics' exposition, and `python -m ml serve`'s refusals before it starts."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml.errors import RiskopsError, SpecError
from ml.serving import auth, body
from ml.serving.decide import curated_rows
from ml.serving.metrics import Metrics
from ml.spec import get_spec, load_spec

REPO = Path(__file__).resolve().parents[2]
GMSC = get_spec(REPO / "datasets", "give_me_some_credit")
APPLICANT = {"RevolvingUtilizationOfUnsecuredLines": "0.77", "age": "45", "NumberOfTime30-59DaysPastDueNotWorse": "2",
             "DebtRatio": "0.8", "MonthlyIncome": "9120", "NumberOfOpenCreditLinesAndLoans": "13",
             "NumberOfTimes90DaysLate": "0", "NumberRealEstateLoansOrLines": "6",
             "NumberOfTime60-89DaysPastDueNotWorse": "0", "NumberOfDependents": "2"}


def test_tokens_are_looked_up_by_their_hash_and_bad_lines_are_refused_by_number(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# who  sha256\n\nweb-form {auth.hash_token('t0ken')}\nmobile {auth.hash_token('other')}\n")
    tokens = auth.load(path)
    assert tokens.client("Bearer t0ken") == "web-form" and tokens.client("Bearer other") == "mobile"
    for header in (None, "", "t0ken", "Basic t0ken", "Bearer ", "Bearer wrong", "bearer t0ken", "Bearer " + "x" * 600):
        assert tokens.client(header) is None
    path.write_text("web-form t0ken\n")  # a token itself, not its hash
    with pytest.raises(RiskopsError, match=r"line 1: expected '<client name> <SHA-256") as refused:
        auth.load(path)
    assert "t0ken" not in str(refused.value)
    path.write_text("# nobody\n")
    with pytest.raises(RiskopsError, match="names no client"):
        auth.load(path)
    with pytest.raises(RiskopsError, match="cannot read the decision tokens file"):
        auth.load(tmp_path / "missing")


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"{", 400, "malformed JSON"),
    (b'{"applications": [{"id": "1", "model_version": "2"}]}', 422, "unknown field 'model_version'"),
    (b'{"applications": [{"id": "1"}], "model_version": "2"}', 422, "unknown field 'model_version'"),
    (b'{"applications": [{"id": "1", "age": ["45"]}]}', 422, "must be text"),
    (b'{"applications": [{"id": "1", "age": true}]}', 422, "must be text"),
    (b'{"applications": [{"id": 1}]}', 422, "\"id\" must be a non-blank string"),
    (b'{"applications": [{"id": "  "}]}', 422, "\"id\" must be a non-blank string"),
    (b'{"applications": {"id": "1"}}', 422, "must be a list"),
    (b'"applications"', 422, "must be an object"),
])
def test_a_body_is_refused_in_one_line(raw, status, words):
    with pytest.raises(body.BodyError) as refused:
        body.applications(body.parse_json(raw), GMSC)
    assert refused.value.status == status and words in refused.value.message and "\n" not in refused.value.message


def test_a_value_longer_than_the_bound_is_refused_and_quoted_short():
    long = "9" * (body.MAX_VALUE + 1)
    with pytest.raises(body.BodyError, match="longer than 1000 characters") as refused:
        body.applications({"applications": [{"id": "1", "age": long}]}, GMSC)
    assert long not in refused.value.message


def test_applications_are_validated_with_the_quarantine_words_and_keep_their_ids():
    apps = body.applications({"applications": [
        {"id": "0001", **APPLICANT},
        {"id": "2", **APPLICANT, "age": "17", "DebtRatio": "-1"},
        {"id": "x", **APPLICANT},
        {"id": "4", **APPLICANT, "MonthlyIncome": None},
    ]}, GMSC)
    table, kept, rejected = curated_rows(apps, GMSC, dt.date(2026, 12, 8))
    assert [a.id for a in kept] == ["0001", "4"] and table.num_rows == 2
    assert table.column("id").to_pylist() == [1, 4] and table.column("MonthlyIncome").to_pylist()[1] is None
    assert [(r.id, r.column) for r in rejected] == [("2", "age"), ("2", "DebtRatio"), ("x", "id")]
    assert rejected[0].reason == "age: 17 is below the minimum 18"
    assert rejected[2].reason.startswith("id: 'x' is not")


def test_the_spec_bounds_serving(tmp_path):
    text = yaml.safe_load((REPO / "datasets" / "give_me_some_credit.yaml").read_text())
    assert GMSC.serving.enabled and GMSC.serving.max_applications == 1000
    for serving, words in (({"max_applications": 1001}, "max_applications"), ({"max_body_bytes": 10 ** 9},
                                                                            "max_body_bytes"),
                           ({"enabled": True, "latency": 5}, "latency")):
        path = tmp_path / "give_me_some_credit.yaml"
        path.write_text(yaml.safe_dump({**text, "serving": serving}))
        with pytest.raises(SpecError, match=words):
            load_spec(path)


def test_metrics_are_prometheus_text_with_cumulative_buckets():
    metrics = Metrics()
    metrics.request("gmsc", "decided", 200, 0.004)
    metrics.request("gmsc", "decided", 200, 0.3)
    metrics.decided("gmsc", "3", "model", "approve", 2)
    metrics.serving("gmsc", "3", "model")
    text = metrics.text()
    key = 'dataset="gmsc",outcome="decided",status="200"'
    assert f"riskops_decision_requests_total{{{key}}} 2" in text
    assert f'riskops_decision_request_seconds_bucket{{{key},le="0.005"}} 1' in text
    assert f'riskops_decision_request_seconds_bucket{{{key},le="0.5"}} 2' in text
    assert f'riskops_decision_request_seconds_bucket{{{key},le="+Inf"}} 2' in text
    assert 'riskops_decisions_total{dataset="gmsc",model_version="3",policy="model",decision="approve"} 2' in text
    assert all(line.startswith("#") or line.rsplit(" ", 1)[1].replace(".", "").isdigit()
               for line in text.splitlines())


@pytest.mark.parametrize(("args", "env", "words"), [
    (["--port", "0"], {}, "--port 0 is not a TCP port"),
    ([], {"RISKOPS_DECISION_TOKENS": ""}, "RISKOPS_DECISION_TOKENS is not set"),
    (["--dataset", "../etc"], {}, "dataset"),
    ([], {"RISKOPS_DECISION_POLL_SECONDS": "60"}, "within 0.1 and 5"),
])
def test_serve_refuses_in_one_line_before_it_starts(tmp_path, args, env, words):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"a {auth.hash_token('t')}\n")
    full = {"PATH": str(Path(sys.executable).parent), "RISKOPS_HOME": str(tmp_path),
            "RISKOPS_DECISION_TOKENS": str(tokens), **env}
    out = subprocess.run([sys.executable, "-m", "ml", "serve", *args], cwd=REPO, env=full, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
