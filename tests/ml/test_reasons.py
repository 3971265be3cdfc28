"""Reason statements (ml/reasons.py) and the spec's fairness and reasons sections: contributions summed per
statement and ranked, the hard rule's statement first, features without a statement and protected attributes
never a reason; what the spec refuses; `python -m ml reasons`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ml import reasons
from ml.cli import main
from ml.errors import SpecError
from ml.model.features import FeaturePipeline
from ml.spec import DatasetSpec, get_spec, load_spec

REPO = Path(__file__).resolve().parents[2]
GMSC = get_spec(REPO / "datasets", "give_me_some_credit")
BANK = get_spec(REPO / "datasets", "bank_marketing")
ORDER = ["a", "b", "c", "d", "e", "f"]


def _spec(statements: list[dict], rules: list[dict] | None = None) -> DatasetSpec:
    data = {"name": "toy", "label": {"column": "y", "maturity_lag_days": 1},
            "columns": [{"name": "id", "type": "int", "role": "id"}, *({"name": n, "type": "float"} for n in ORDER)],
            "policy": {"hard_rules": rules or []}, "reasons": {"statements": statements}}
    return DatasetSpec.model_validate(data)


SPEC = _spec([{"code": "S1", "text": "one", "features": ["a", "b"]}, {"code": "S2", "text": "two", "features": ["c"]},
              {"code": "S3", "text": "three", "features": ["d"]}, {"code": "S4", "text": "four", "features": ["e"]},
              {"code": "S5", "text": "rule", "rules": ["R-X"]}],
             [{"when": "a > 10", "action": "decline", "code": "R-X"}, {"when": "b > 10", "action": "review",
                                                                        "code": "R-Y"}])


def test_contributions_are_summed_per_statement_and_ranked() -> None:
    d = reasons.Dictionary.of(SPEC, ORDER)
    contributions = np.array([
        [0.2, 0.3, 0.4, 0.1, 0.05, 9.0],  # S1 = 0.5 > S2 0.4 > S3 0.1 > S4 0.05; f has no statement
        [0.6, -0.5, 0.2, -0.1, 0.0, 1.0],  # S1 = 0.1 < S2 0.2; S3 pulls down, S4 zero: no reason
        [-1.0, -1.0, -1.0, -1.0, -1.0, 5.0],  # nothing with a statement pushes up: no reason at all
    ])
    ranked = reasons.rank(contributions, d)
    codes = [[d.codes[i] if i >= 0 else None for i in row] for row in ranked]
    assert codes == [["S1", "S2", "S3", "S4"], ["S2", "S1", None, None], [None] * 4]


def test_without_statements_each_feature_is_its_own_reason() -> None:
    bare = _spec([])
    d = reasons.Dictionary.of(bare, ORDER)
    assert d.codes == tuple(ORDER) and not d.from_spec and "no reason statements" in d.warning("toy")
    contributions = np.random.default_rng(0).normal(size=(50, 6))
    top = np.argsort(-contributions, axis=1, kind="stable")[:, :4]
    expected = np.where(np.take_along_axis(contributions, top, 1) > 0, top, -1)
    assert (reasons.rank(contributions, d) == expected).all()  # the earlier reason codes, four of them


def test_the_hard_rules_statement_comes_first_once() -> None:
    d = reasons.Dictionary.of(SPEC, ORDER)
    rules = pd.Categorical.from_codes([0, 1, -1, 0], categories=["R-X", "R-Y"])
    contributions = np.array([[0.1, 0.0, 0.3, 0.2, 0.0, 0.0], [0.1, 0.0, 0.3, 0.2, 0.0, 0.0]])
    explained = np.array([True, True, False, False])  # rows 2 and 3: the model approved them
    out = reasons.row_statements(d, contributions, explained, rules)
    named = [[d.codes[i] if i >= 0 else None for i in row] for row in out]
    assert named[0] == ["S5", "S2", "S3", "S1"]  # the rule's statement, then the model's
    assert named[1] == ["S2", "S3", "S1", None]  # R-Y has no statement
    assert named[2] == [None] * 4 and named[3] == ["S5", None, None, None]  # a rule-only decline


def test_frequency_counts_first_and_any_reasons() -> None:
    d = reasons.Dictionary.of(SPEC, ORDER)
    statements = np.array([[0, 1, -1, -1], [1, -1, -1, -1], [0, 2, 1, -1], [-1, -1, -1, -1]], dtype=np.int32)
    freq = {r["code"]: r for r in reasons.frequency(statements, d)}
    assert freq["S1"]["first"] == 2 and freq["S1"]["any"] == 2 and freq["S1"]["first_share"] == pytest.approx(2 / 3)
    assert freq["S2"]["first"] == 1 and freq["S2"]["any"] == 3 and freq["S2"]["any_share"] == pytest.approx(1.0)
    assert set(freq) == {"S1", "S2", "S3"}


def test_a_protected_attribute_is_no_model_input() -> None:
    curated = pd.DataFrame({c.name: [] for c in BANK.columns})
    pipeline = FeaturePipeline.fit(BANK, curated)
    assert "marital" not in pipeline.order and "marital" not in pipeline.inputs
    assert "age" in pipeline.order  # monitored: may stay a feature
    assert BANK.protected_columns == {"marital"}


def _refused(tmp_path: Path, change: dict, match: str) -> None:
    data = yaml.safe_load((REPO / "datasets" / "give_me_some_credit.yaml").read_text())
    for key, value in change.items():
        data[key] = value
    path = tmp_path / "give_me_some_credit.yaml"
    path.write_text(yaml.dump(data, Dumper=_NoAliases))
    with pytest.raises(SpecError, match=match):
        load_spec(path)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:  # specs refuse anchors: write repeated values out
        return True


AGE = {"column": "age", "kind": "monitored", "reference": "25 to 61",
       "bands": [{"name": "under 25", "below": 25}, {"name": "25 to 61", "below": 62}, {"name": "62 and over"}]}


@pytest.mark.parametrize("fairness, match", [
    ({"attributes": [{**AGE, "reference": "adults"}]}, "reference 'adults' is not one of its groups"),
    ({"attributes": [{**AGE, "bands": None}]}, "the groups of a number column are its bands"),
    ({"attributes": [{**AGE, "column": "nope"}]}, "fairness attribute 'nope' is not a column"),
    ({"attributes": [AGE, dict(AGE)]}, "listed twice"),
    ({"attributes": [{**AGE, "bands": [{"name": "x", "below": 62}, {"name": "y", "below": 25}, {"name": "z"}]}]},
     "band bounds must rise"),
    ({"attributes": [{**AGE, "bands": [{"name": "x", "below": 25}, {"name": "y"}, {"name": "z"}]}]},
     "every band but the last needs 'below'"),
    ({"attributes": [{**AGE, "kind": "protected"}]}, "protected, so no hard rule may read it"),
    ({"attributes": [{**AGE, "column": "id"}]}, "the id column cannot be a fairness attribute"),
    ({"min_ratio": 1.5}, "min_ratio"),
])
def test_the_spec_refuses_a_wrong_fairness_section(tmp_path: Path, fairness: dict, match: str) -> None:
    if fairness.get("attributes") and fairness["attributes"][0].get("column") == "id":
        fairness["attributes"][0].pop("bands")
    _refused(tmp_path, {"fairness": fairness}, match)


@pytest.mark.parametrize("statements, match", [
    ([{"code": "R1", "text": "x", "features": ["nope"]}], "'nope' is not a model feature"),
    ([{"code": "R1", "text": "x", "rules": ["HR99"]}], "'HR99' is not the code of a hard rule"),
    ([{"code": "R1", "text": "x", "features": ["DebtRatio"]}, {"code": "R1", "text": "y", "features": ["age"]}],
     "code 'R1' is used twice"),
    ([{"code": "R1", "text": "x", "features": ["DebtRatio"]}, {"code": "R2", "text": "y", "features": ["DebtRatio"]}],
     "both name DebtRatio"),
    ([{"code": "R1", "text": "x"}], "needs features or rules"),
    ([{"code": "R1", "text": "", "features": ["DebtRatio"]}], "text"),
])
def test_the_spec_refuses_wrong_statements(tmp_path: Path, statements: list, match: str) -> None:
    _refused(tmp_path, {"reasons": {"statements": statements}}, match)


def test_a_protected_attribute_is_never_a_statement(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "datasets" / "bank_marketing.yaml").read_text())
    data["reasons"]["statements"].append({"code": "B99", "text": "Marital status", "features": ["marital"]})
    path = tmp_path / "bank_marketing.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match="'marital' is a protected attribute, which is never a reason"):
        load_spec(path)


def test_every_shipped_spec_declares_its_attributes_and_statements() -> None:
    declared = {name: {(a.column, a.kind) for a in get_spec(REPO / "datasets", name).fairness.attributes}
                for name in ("give_me_some_credit", "bank_marketing", "card_transactions")}
    assert declared == {"give_me_some_credit": {("age", "monitored")},
                        "bank_marketing": {("marital", "protected"), ("age", "monitored")},
                        "card_transactions": {("customer_age", "monitored")}}
    for name in declared:
        assert get_spec(REPO / "datasets", name).reasons.statements


def test_the_reasons_command_prints_the_dictionary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reasons", "--dataset", "give_me_some_credit"]) == 0
    out = capsys.readouterr().out
    assert "R07\tNumber of times 90 days or more past due\t(NumberOfTimes90DaysLate, hard rule " \
           "HR02-SERIOUS-DELINQUENCY)" in out
    assert "never a reason: age" in out and "fairness attribute age (monitored)" in out
    assert main(["reasons", "--dataset", "bank_marketing", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "marital" in data["never_a_reason"] and data["statements"][0]["code"] == "B01"
    assert main(["reasons", "--dataset", "../etc"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_reasons_command_warns_without_statements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load((REPO / "datasets" / "give_me_some_credit.yaml").read_text())
    del data["reasons"]
    (tmp_path / "give_me_some_credit.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    assert main(["reasons", "--dataset", "give_me_some_credit"]) == 0
    assert "warning: the spec of 'give_me_some_credit' has no reason statements" in capsys.readouterr().err
