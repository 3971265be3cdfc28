"""validate_fields: typed parsing and per-row reasons, column type by column type."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ml.data.validate import validate_fields
from ml.spec import DatasetSpec, get_spec, normalize_text

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
CARDS = get_spec(DATASETS, "card_transactions")
GMSC = get_spec(DATASETS, "give_me_some_credit")

GOOD = {
    "transaction_id": "TX1", "transaction_date": "01/09/2026", "amount": "12,50", "merchant_category": "Mode",
    "channel": "pos", "country": "FR", "device": "os:ios;type:mobile;trusted:1", "is_prime": "N",
    "customer_age": "40", "hour": "10",
}


def cards(column: str, values: list[str], **fixed: str) -> pd.DataFrame:
    """One card row per value of `column` (other columns valid; distinct ids unless the column is the id)."""
    rows = []
    for i, value in enumerate(values):
        row = dict(GOOD, transaction_id=f"TX{i}", **fixed)
        row[column] = value
        rows.append(row)
    return pd.DataFrame(rows, dtype="string")


def check(spec: DatasetSpec, column: str, values: list[str], **fixed: str):
    frame = cards(column, values, **fixed) if spec is CARDS else pd.DataFrame({column: values}, dtype="string")
    return validate_fields(frame, spec)


def tiny_spec(*columns: dict, raw: dict | None = None) -> DatasetSpec:
    return DatasetSpec.model_validate({
        "name": "tiny",
        "raw": raw or {},
        "columns": [{"name": "id", "type": "string", "role": "id"}, *columns],
        "label": {"column": "y", "maturity_lag_days": 0},
    })


def tiny(spec: DatasetSpec, column: str, values: list[str]):
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(values))], column: values}, dtype="string")
    return validate_fields(frame, spec)


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("text, number", [
    ("1.234,56", 1234.56),
    ("12,50", 12.5),
    ("12,5", 12.5),
    ("0", 0.0),
    ("0,0", 0.0),
    ("7", 7.0),
    (" 7,00 ", 7.0),
    ("1.000.000", 1_000_000.0),
    ("1.000.000,00", 1_000_000.0),
    ("999.999,99", 999_999.99),
    ("1.234", 1234.0),  # a thousands separator in grouping position, no decimals
])
def test_decimal_comma_numbers_parse(text, number):
    result = check(CARDS, "amount", [text])
    assert result.reasons == [[]]
    assert result.values["amount"].iloc[0] == pytest.approx(number)
    assert result.values["amount"].dtype == "float64"


@pytest.mark.parametrize("text", [
    "12.5",       # a decimal point in a decimal-comma file: ambiguous, rejected
    "1.23,4",     # the point is not in a thousands position
    "1,234.56",   # the other convention
    "12,5,5",
    "1 234,56",
    "abc",
    "--1",
    "1_000",
    "0x10",
    "١٢",         # non-ASCII digits
])
def test_decimal_comma_numbers_rejected(text):
    result = check(CARDS, "amount", [text])
    assert result.reasons == [[f"amount: '{text}' is not a number"]]
    assert pd.isna(result.values["amount"].iloc[0])


def test_decimal_point_spec_rejects_decimal_comma():
    frame = pd.DataFrame({"id": ["1", "2", "3"], "DebtRatio": ["12.5", "12,5", "1,234.5"]}, dtype="string")
    result = validate_fields(frame, GMSC)
    debt = result.reasons
    assert result.values["DebtRatio"].iloc[0] == 12.5
    assert not any(r.startswith("DebtRatio") for r in debt[0])
    assert "DebtRatio: '12,5' is not a number" in debt[1]
    assert "DebtRatio: '1,234.5' is not a number" in debt[2]  # no thousands separator in that spec


def test_thousands_comma_decimal_point_spec():
    spec = tiny_spec({"name": "x", "type": "float"}, raw={"decimal": ".", "thousands": ","})
    result = tiny(spec, "x", ["1,234.56", "1,234,567", "12.5", "12,5"])
    assert result.values["x"].tolist()[:3] == pytest.approx([1234.56, 1234567.0, 12.5])
    assert result.reasons[:3] == [[], [], []]
    assert result.reasons[3] == ["x: '12,5' is not a number"]


@pytest.mark.parametrize("text, reason", [
    ("inf", "amount: 'inf' is not a finite number"),
    ("-inf", "amount: '-inf' is not a finite number"),
    ("1e400", "amount: '1e400' is not a finite number"),
    ("NaN", "amount: missing required value"),
    ("nan", "amount: missing required value"),
])
def test_non_finite_amounts(text, reason):
    assert check(CARDS, "amount", [text]).reasons == [[reason]]


def test_float_ranges_are_inclusive():
    result = check(CARDS, "amount", ["0", "1000000", "-0,01", "1000000,01"])
    assert result.reasons[0] == [] and result.reasons[1] == []
    assert result.reasons[2] == ["amount: -0,01 is below the minimum 0"]
    assert result.reasons[3] == ["amount: 1000000,01 is above the maximum 1e+06"]
    assert result.values["amount"].isna().tolist() == [False, False, True, True]


def test_ints():
    result = check(CARDS, "hour", ["0", "23", "12,0", "-0", "12,5", "24", "-1", "1e3", "9007199254740993", "x"])
    assert result.values["hour"].dtype == "Int64"
    assert result.values["hour"].tolist()[:4] == [0, 23, 12, 0]
    assert result.reasons[:4] == [[], [], [], []]
    assert result.reasons[4] == ["hour: '12,5' is not a whole number"]
    assert result.reasons[5] == ["hour: 24 is above the maximum 23"]
    assert result.reasons[6] == ["hour: -1 is below the minimum 0"]
    assert result.reasons[7] == ["hour: 1e3 is above the maximum 23"]
    assert result.reasons[8] == ["hour: '9007199254740993' is too large for an integer"]
    assert result.reasons[9] == ["hour: 'x' is not a number"]
    assert result.values["hour"].iloc[4:].isna().all()


def test_int_too_large_even_without_bounds():
    spec = tiny_spec({"name": "n", "type": "int"})
    result = tiny(spec, "n", ["9007199254740992", "9007199254740991", "-9007199254740993", "9" * 400])
    assert result.reasons[1] == []
    assert result.values["n"].iloc[1] == 2**53 - 1
    assert result.reasons[0] == ["n: '9007199254740992' is too large for an integer"]
    assert result.reasons[2] == ["n: '-9007199254740993' is too large for an integer"]
    assert len(result.reasons[3]) == 1 and result.reasons[3][0].startswith("n: '9999")


def test_optional_number_null_markers():
    result = check(CARDS, "customer_age", ["", "NA", "N/A", "null", " ", "17", "18", "110", "111"])
    assert result.reasons[:5] == [[]] * 5
    assert result.values["customer_age"].iloc[:5].isna().all()
    assert result.reasons[5] == ["customer_age: 17 is below the minimum 18"]
    assert result.values["customer_age"].tolist()[6:8] == [18, 110]
    assert result.reasons[8] == ["customer_age: 111 is above the maximum 110"]


def test_custom_na_values():
    spec = tiny_spec({"name": "x", "type": "float"}, raw={"na_values": ["-"]})
    result = tiny(spec, "x", ["-", "NA", "1"])
    assert result.reasons == [[], ["x: 'NA' is not a number"], []]


# ---------------------------------------------------------------- categories


@pytest.mark.parametrize("text, value", [
    ("ÉPICERIE", "epicerie"),
    ("Épicerie", "epicerie"),
    ("épicerie", "epicerie"),
    ("epicerie", "epicerie"),
    ("Santé", "sante"),
    ("SANTÉ", "sante"),
    ("  Jeux   en  LIGNE ", "jeux en ligne"),
    ("Électronique", "electronique"),
    ("E\u0301picerie", "epicerie"),  # decomposed accent
])
def test_category_accents_and_case(text, value):
    result = check(CARDS, "merchant_category", [text])
    assert result.reasons == [[]]
    assert result.values["merchant_category"].iloc[0] == value


def test_unknown_category():
    result = check(CARDS, "merchant_category", ["Zoológico", "Mode", "épicerie fine"])
    assert result.reasons == [["merchant_category: unknown category 'Zoológico'"], [],
                              ["merchant_category: unknown category 'épicerie fine'"]]
    assert result.values["merchant_category"].isna().tolist() == [True, False, True]


def test_optional_category_may_be_empty_required_may_not():
    result = check(CARDS, "channel", ["", "NA", "ONLINE", "web"])
    assert result.reasons == [[], [], [], ["channel: unknown category 'web'"]]
    assert result.values["channel"].tolist()[2] == "online"
    result = check(CARDS, "merchant_category", ["", "NULL"])
    assert result.reasons == [["merchant_category: missing required value"]] * 2


def test_category_without_normalisation_is_exact():
    spec = tiny_spec({"name": "c", "type": "category", "categories": ["Mode"], "normalize": False})
    result = tiny(spec, "c", ["Mode", " Mode ", "mode", "MODE"])
    assert result.reasons[:2] == [[], []]
    assert result.values["c"].tolist()[:2] == ["Mode", "Mode"]
    assert result.reasons[2] == ["c: unknown category 'mode'"]
    assert result.reasons[3] == ["c: unknown category 'MODE'"]


def test_normalize_text():
    assert normalize_text("Épicerie  Fine") == "epicerie fine"
    assert normalize_text("\tÇA\u00a0VA ") == "ca va"
    assert normalize_text("Straße") == "strasse"


# ---------------------------------------------------------------- dates


def test_dates():
    texts = ["01/09/2026", "1/9/2026", " 01/09/2026 ", "29/02/2024", "31/02/2026", "29/02/2026", "32/01/2026",
             "2026-09-01", "01/13/2026", "tomorrow"]
    result = check(CARDS, "transaction_date", texts)
    good = result.values["transaction_date"].iloc[:4].tolist()
    assert good == [pd.Timestamp("2026-09-01")] * 3 + [pd.Timestamp("2024-02-29")]
    assert result.reasons[:4] == [[]] * 4
    for text, reasons in zip(texts[4:], result.reasons[4:], strict=True):
        assert reasons == [f"transaction_date: '{text}' is not a date in format %d/%m/%Y"]
    assert result.values["transaction_date"].iloc[4:].isna().all()
    assert str(result.values["transaction_date"].dtype) == "datetime64[s]"


def test_date_column_is_required():
    result = check(CARDS, "transaction_date", ["", "NA"])
    assert result.reasons == [["transaction_date: missing required value"]] * 2


# ---------------------------------------------------------------- bools


def test_bools_with_spec_values():
    result = check(CARDS, "is_prime", ["S", "s", "Y", "1", " N ", "n", "0", "", "yes", "oui"])
    assert result.values["is_prime"].tolist()[:8] == [True, True, True, True, False, False, False, pd.NA]
    assert result.reasons[:8] == [[]] * 8
    assert result.reasons[8] == ["is_prime: 'yes' is not a yes/no value"]
    assert result.reasons[9] == ["is_prime: 'oui' is not a yes/no value"]
    assert str(result.values["is_prime"].dtype) == "boolean"


def test_bools_with_default_values():
    spec = tiny_spec({"name": "b", "type": "bool"})
    result = tiny(spec, "b", ["true", "TRUE", "yes", "y", "1", "false", "No", "0", "f", "2"])
    assert result.values["b"].tolist()[:9] == [True] * 5 + [False] * 4
    assert result.reasons[9] == ["b: '2' is not a yes/no value"]


# ---------------------------------------------------------------- key:value device column


def test_device_good():
    result = check(CARDS, "device", ["os:ios;type:mobile;trusted:1", "trusted: 0 ;os:ANDROID;type:Tablet",
                                     "os:linux", "", "os:ios;type:desktop;trusted:1;"])
    v = result.values
    assert result.reasons == [[]] * 5
    assert v["device_os"].tolist() == ["ios", "android", "linux", pd.NA, "ios"]
    assert v["device_type"].tolist() == ["mobile", "tablet", pd.NA, pd.NA, "desktop"]
    assert v["device_trusted"].tolist() == [True, False, pd.NA, pd.NA, True]
    assert "device" not in v.columns


def test_device_malformed():
    result = check(CARDS, "device", ["os=ios;type=mobile;trusted=1", "os:ios;garbage;type:mobile", "garbage"])
    assert result.reasons[0] == ["device: 'os=ios;type=mobile;trusted=1' is not key:value pairs"]
    assert result.reasons[1] == ["device: 'os:ios;garbage;type:mobile' is not key:value pairs"]
    assert result.reasons[2] == ["device: 'garbage' is not key:value pairs"]
    assert result.values["device_os"].isna().tolist() == [True, False, True]


def test_device_unknown_os_and_bad_flag():
    result = check(CARDS, "device", ["os:beos;type:mobile;trusted:1", "os:ios;type:phone;trusted:maybe"])
    assert result.reasons[0] == ["device_os: unknown category 'beos'"]
    assert result.values["device_type"].iloc[0] == "mobile"  # the other keys still parse
    assert result.reasons[1] == ["device_type: unknown category 'phone'",
                                 "device_trusted: 'maybe' is not a yes/no value"]


def test_kv_required_key():
    spec = tiny_spec({"name": "kv", "type": "kv", "keys": [{"name": "a", "type": "int", "required": True},
                                                            {"name": "b"}]})
    result = tiny(spec, "kv", ["a:1;b:x", "b:x", "", "a:;b:y", "nonsense"])
    assert result.reasons[0] == []
    assert result.values["kv_a"].iloc[0] == 1 and result.values["kv_b"].iloc[0] == "x"
    assert result.reasons[1] == ["kv_a: missing required value"]
    assert result.reasons[2] == ["kv_a: missing required value"]
    assert result.reasons[3] == ["kv_a: missing required value"]
    # a malformed string is reported once, not also as a missing key
    assert result.reasons[4] == ["kv: 'nonsense' is not key:value pairs"]


# ---------------------------------------------------------------- required values and ids


@pytest.mark.parametrize("text", ["", " ", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"])
def test_required_null(text):
    result = check(CARDS, "hour", [text])
    assert result.reasons == [["hour: missing required value"]]
    assert pd.isna(result.values["hour"].iloc[0])


def test_id_is_required():
    result = check(CARDS, "transaction_id", ["", "NA", " TX9 "])
    assert result.reasons == [["transaction_id: missing required value"]] * 2 + [[]]
    assert result.values["transaction_id"].iloc[2] == "TX9"


def test_duplicate_ids_first_kept():
    result = check(CARDS, "transaction_id", ["A", "B", "A", "C", "A", "B", " C "])
    assert result.reasons[:2] == [[], []] and result.reasons[3] == []
    assert result.reasons[2] == ["transaction_id: duplicate id 'A' (an earlier row has it)"]
    assert result.reasons[4] == ["transaction_id: duplicate id 'A' (an earlier row has it)"]
    assert result.reasons[5] == ["transaction_id: duplicate id 'B' (an earlier row has it)"]
    assert result.reasons[6] == ["transaction_id: duplicate id 'C' (an earlier row has it)"]
    assert result.clean_mask.tolist() == [True, True, False, True, False, False, False]


def test_missing_ids_are_not_duplicates():
    result = check(CARDS, "transaction_id", ["", "", "X"])
    assert result.reasons == [["transaction_id: missing required value"]] * 2 + [[]]


def test_int_ids_compare_as_numbers():
    spec = tiny_spec()
    int_ids = spec.model_copy(update={"columns": [spec.columns[0].model_copy(update={"type": "int"})]})
    result = validate_fields(pd.DataFrame({"id": ["1", "01", "1,0", "2"]}, dtype="string"), int_ids)
    assert result.values["id"].tolist() == [1, 1, pd.NA, 2]
    assert result.reasons[1] == ["id: duplicate id '1' (an earlier row has it)"]
    assert "id: '1,0' is not a number" in result.reasons[2]


def test_a_broken_first_copy_does_not_reject_a_good_second_copy():
    frame = pd.DataFrame([dict(GOOD, transaction_id="A", amount="x"), dict(GOOD, transaction_id="A")],
                         dtype="string")
    result = validate_fields(frame, CARDS)
    assert result.reasons == [["amount: 'x' is not a number"], []]


def test_reasons_stay_on_one_line():
    frame = pd.DataFrame([dict(GOOD, merchant_category="Épi\ncerie\x00")], dtype="string")
    (reasons,) = validate_fields(frame, CARDS).reasons
    assert reasons == ["merchant_category: unknown category 'Épi\\ncerie\\x00'"]


def test_device_keys_match_case_insensitively():
    frame = pd.DataFrame([dict(GOOD, device="OS:iOS;Type:mobile;TRUSTED:1")], dtype="string")
    result = validate_fields(frame, CARDS)
    assert result.reasons == [[]]
    assert result.values[["device_os", "device_type", "device_trusted"]].iloc[0].tolist() == ["ios", "mobile", True]


def test_several_problems_are_all_reported():
    frame = pd.DataFrame([dict(GOOD, amount="x", hour="99", merchant_category="?")], dtype="string")
    (reasons,) = validate_fields(frame, CARDS).reasons
    assert reasons == ["amount: 'x' is not a number", "merchant_category: unknown category '?'",
                       "hour: 99 is above the maximum 23"]


def test_long_values_are_shortened_in_reasons():
    result = check(CARDS, "amount", ["x" * 100])
    (reason,) = result.reasons[0]
    assert reason == "amount: '" + "x" * 37 + "...' is not a number"


# ---------------------------------------------------------------- frame shape


def test_missing_optional_column_is_all_null():
    frame = pd.DataFrame([GOOD], dtype="string").drop(columns=["country", "device", "customer_age"])
    result = validate_fields(frame, CARDS)
    assert result.reasons == [[]]
    assert result.values[["country", "device_os", "customer_age"]].isna().all(axis=None)


def test_missing_required_column_flags_every_row():
    frame = pd.DataFrame([GOOD, dict(GOOD, transaction_id="TX2")], dtype="string").drop(columns=["hour"])
    assert validate_fields(frame, CARDS).reasons == [["hour: missing required value"]] * 2


def test_empty_frame():
    result = validate_fields(pd.DataFrame(dtype="string"), CARDS)
    assert result.reasons == []
    assert len(result.values) == 0
    assert list(result.values.columns) == [
        "transaction_id", "transaction_date", "amount", "merchant_category", "channel", "country",
        "device_os", "device_type", "device_trusted", "is_prime", "customer_age", "hour"]


def test_clean_row_values_are_typed():
    result = validate_fields(pd.DataFrame([GOOD], dtype="string"), CARDS)
    assert result.reasons == [[]] and result.clean_mask.tolist() == [True]
    row = result.values.iloc[0]
    assert row["transaction_id"] == "TX1"
    assert row["transaction_date"] == pd.Timestamp("2026-09-01")
    assert row["amount"] == 12.5
    assert row["merchant_category"] == "mode"
    assert row["country"] == "fr"
    assert pd.notna(row["is_prime"]) and not row["is_prime"]
    assert row["device_os"] == "ios" and row["device_type"] == "mobile" and row["device_trusted"]
    assert row["customer_age"] == 40 and row["hour"] == 10


# ---------------------------------------------------------------- money strings


@pytest.mark.parametrize("text, number", [
    ("$60,000.00 ", 60_000.0),  # currency symbol, thousands separators, trailing space
    ("USD 5,000", 5_000.0),
    ("usd 5,000", 5_000.0),
    ("5,000 USD", 5_000.0),
    ("-$5.25", -5.25),
    ("$-5.25", -5.25),
    ("(1,234.00)", -1_234.0),
    ("($1,234.00)", -1_234.0),
    ("12", 12.0),
])
def test_money_strings_in_the_raw_format(text, number):
    spec = tiny_spec({"name": "x", "type": "float"},
                     raw={"thousands": ",", "currency": ["$", "USD"], "negative_parentheses": True})
    result = tiny(spec, "x", [text])
    assert result.reasons == [[]] and result.values["x"].iloc[0] == pytest.approx(number)


@pytest.mark.parametrize("text", ["$$5", "€5", "5$ $", "(-5)", "$ 12,0O0.00", "12 34", "(5"])
def test_money_strings_that_are_not_numbers(text):
    spec = tiny_spec({"name": "x", "type": "float"},
                     raw={"thousands": ",", "currency": ["$", "USD"], "negative_parentheses": True})
    assert tiny(spec, "x", [text]).reasons == [[f"x: '{text}' is not a number"]]


def test_money_format_per_column_over_the_raw_format():
    spec = tiny_spec({"name": "eur", "type": "float", "decimal": ",", "thousands": ".", "currency": ["€", "EUR"]},
                     {"name": "plain", "type": "float"},
                     {"name": "fee", "type": "int", "role": "ignore", "currency": ["$"]})
    frame = pd.DataFrame({"id": ["a", "b"], "eur": ["1.234,56 €", "EUR 12,50"], "plain": ["1.5", "€1.5"],
                          "fee": ["$25", "$ 3"]}, dtype="string")
    result = validate_fields(frame, spec)
    assert result.values["eur"].tolist() == pytest.approx([1234.56, 12.5])
    assert result.values["fee"].tolist() == [25, 3]  # an ignored column is validated like any other
    assert result.reasons == [[], ["plain: '€1.5' is not a number"]]  # the raw format has no currency


def test_money_strings_were_rejected_without_a_currency_in_the_spec():
    spec = tiny_spec({"name": "x", "type": "float", "role": "ignore"}, raw={"thousands": ","})
    assert tiny(spec, "x", ["$60,000.00 "]).reasons == [["x: '$60,000.00 ' is not a number"]]


# ---------------------------------------------------------------- two-digit years and date bounds


def test_two_digit_years_follow_the_pivot():
    spec = tiny_spec({"name": "d", "type": "date", "role": "ignore", "format": "%d-%b-%y", "year_pivot": 30})
    result = tiny(spec, "d", ["7-Dec-61", "1-Jan-30", "1-Jan-31", "29-Feb-00", "15-Mar-99", "1-Jan-69"])
    assert result.reasons == [[]] * 6
    assert [d.date().isoformat() for d in result.values["d"]] == [
        "1961-12-07", "2030-01-01", "1931-01-01", "2000-02-29", "1999-03-15", "1969-01-01"]


def test_dates_outside_their_bounds_are_quarantine_reasons():
    import datetime as dt

    spec = tiny_spec({"name": "d", "type": "date", "role": "ignore", "format": "%d-%b-%y", "year_pivot": 68,
                      "min": "1930-01-01",
                      "max": "business_date"})
    result = validate_fields(pd.DataFrame({"id": ["a", "b", "c", "d"], "d": ["7-Dec-61", "2-Sep-26", "1-Sep-26",
                                                                               "1-Jan-29"]}, dtype="string"),
                             spec, dt.date(2026, 9, 1))
    # with Python's own century rule '61' would be 2061: the pivot, then the business date, catch it
    assert result.reasons == [
        ["d: '7-Dec-61' (2061-12-07) is after the maximum 2026-09-01 (the business date)"],
        ["d: '2-Sep-26' (2026-09-02) is after the maximum 2026-09-01 (the business date)"],
        [],
        ["d: '1-Jan-29' (2029-01-01) is after the maximum 2026-09-01 (the business date)"]]
    assert result.values["d"].isna().tolist() == [True, True, False, True]
    old = tiny_spec({"name": "d", "type": "date", "role": "ignore", "format": "%Y-%m-%d", "min": "1930-01-01",
                     "max": "2030-12-31"})
    assert tiny(old, "d", ["1929-12-31", "2031-01-01", "1930-01-01"]).reasons == [
        ["d: '1929-12-31' (1929-12-31) is before the minimum 1930-01-01"],
        ["d: '2031-01-01' (2031-01-01) is after the maximum 2030-12-31"], []]
