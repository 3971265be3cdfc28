"""The command line: steps registered once, one date-window group, options from TrainConfig, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ml.cli import build_parser, main
from ml.config import TrainConfig


def test_help_lists_every_step_quickly():
    out = subprocess.run([sys.executable, "-m", "ml", "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("datasets", "replay", "preprocess", "stats", "train", "promote", "reject", "score"):
        assert f"    {name}" in out
    # --help does not import the data stack (pandas, MLflow): only the steps that need it do
    code = "import sys, ml.cli; ml.cli.build_parser(); print([m for m in ('pandas', 'mlflow', 'xgboost') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_train_options_and_defaults_come_from_the_config():
    args = build_parser().parse_args(["train", "--dataset", "x", "--as-of", "2026-09-01"])
    for f in TrainConfig.options():
        assert getattr(args, f.name) == f.default
    args = build_parser().parse_args(["train", "--dataset", "x", "--as-of", "2026-09-01", "--cost-sensitive",
                                      "--threshold-method", "cost"])
    assert args.cost_sensitive is True and args.threshold_method == "cost"
    templated = build_parser().parse_args(["train", "--dataset", "x", "--as-of", "2026-09-01", "--cost-sensitive=False"])
    assert templated.cost_sensitive is False


@pytest.mark.parametrize("argv, message", [
    (["--window-days", "0"], "window days (0) must be at least valid days + test days + 1 (12)"),
    (["--beta", "-1"], "beta must be a positive number, not -1.0"),
    (["--margin", "nan"], "margin must be zero or a positive number"),
    (["--valid-days", "0"], "valid days must be at least 1"),
])
def test_bad_training_options_are_one_line_errors(argv, message, capsys):
    assert main(["train", "--dataset", "card_transactions", "--as-of", "2026-09-01", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--date", "2026-09-02", "--start", "2026-09-01"], "give either --date or --start/--end, not both"),
    (["--start", "2026-09-05", "--end", "2026-09-01"], "--end 2026-09-01 is before --start 2026-09-05"),
    ([], "give --date, or --start and --end for a window"),
])
def test_one_date_window_group_with_one_check(argv, message, capsys, data_root):
    for step in ("preprocess", "score"):
        assert main([step, "--dataset", "card_transactions", *argv]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"


def test_decisions_refuse_blank_names_and_take_any_text_as_one_value(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reject", "--dataset", "card_transactions", "--version", "1", "--approver", "  ", "--reason", "x"])
    assert exc.value.code == 2 and "--approver: must not be blank" in capsys.readouterr().err
    args = build_parser().parse_args(["reject", "--dataset", "d", "--version", "1", "--approver=Ada",
                                      "--reason=-- no gain, --margin too small"])
    assert args.reason == "-- no gain, --margin too small"
    # with a space too, for every free-text option: argparse alone reads '--worse' as an option
    for text in ("-0.4pt", "--worse", "-", "--version 2"):
        args = build_parser().parse_args(["reject", "--dataset", "d", "--version", "1", "--approver", text,
                                          "--reason", text])
        assert (args.approver, args.reason, args.version) == (text, text, "1")
        args = build_parser().parse_args(["promote", "--dataset", "d", "--version", "1", "--approver", "Ada",
                                          "--note", text, "--triggered-by", text])
        assert (args.note, args.triggered_by) == (text, text)
        args = build_parser().parse_args(["train", "--dataset", "d", "--as-of", "2026-09-01", "--trigger", text])
        assert args.trigger == text


def test_stats_is_a_readable_table_with_the_top_reasons_per_day(data_root, capsys):
    import datetime as dt

    from ml import layout
    from ml.storage import Storage

    header = ";".join(["transaction_id", "transaction_date", "amount", "merchant_category", "channel", "country",
                       "device", "is_prime", "customer_age", "hour"])
    good = "{};01/09/2026;12,50;Mode;pos;FR;os:ios;N;39;15"
    storage = Storage(str(data_root))
    batches = {dt.date(2026, 9, 1): [good.format(f"TX{i}") for i in range(40)],
               dt.date(2026, 9, 2): [good.format(f"TX{i}") for i in range(38)]
               + ["TXA;01/09/2026;12,50;Mode;pos;FR;os:ios;N;39;24", "TXB;01/09/2026;x;Mode;pos;FR;os:ios;N;39;15"]}
    for day, lines in batches.items():
        storage.write_bytes(f"{layout.landing('card_transactions', day)}/b.csv", "\n".join([header, *lines]).encode())
    assert main(["preprocess", "--dataset", "card_transactions", "--start", "2026-09-01", "--end", "2026-09-02"]) == 0
    capsys.readouterr()
    assert main(["stats", "--dataset", "card_transactions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["date", "rows", "in", "clean", "quarantined", "rate", "gate", "top", "quarantine",
                              "reasons", "(rows)"]
    assert out[1].split() == ["2026-09-01", "40", "40", "0", "0.00%", "passed", "-"]
    assert out[2].split() == ["2026-09-02", "40", "38", "2", "5.00%", "passed", "hour", "(1),", "amount", "(1)"]
    assert "null rates of clean rows, columns with missing values:" in out
    assert max(len(line) for line in out) <= 120


def test_windows_keep_business_days_and_a_single_date_must_be_one(data_root, capsys):
    assert main(["preprocess", "--dataset", "bank_marketing", "--date", "2008-05-10"]) == 2
    assert capsys.readouterr().err == ("error: 2008-05-10 is not a business day of 'bank_marketing' (calendar: "
                                       "weekdays, 27 holidays)\n")
    assert main(["score", "--dataset", "bank_marketing", "--start", "2008-05-10", "--end", "2008-05-11"]) == 2
    assert capsys.readouterr().err == "error: no business day of 'bank_marketing' from 2008-05-10 to 2008-05-11\n"
