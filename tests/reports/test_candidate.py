"""Candidate-model PDF report: content, images, page count, determinism and the first-model variant.

The numbers are made up here (the report never computes statistics; ml does), shaped like a real
credit-risk model so the charts look like the real thing.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from reports.candidate import (
    CandidateReportData,
    FeatureShift,
    ModelMetrics,
    PsiVsChampion,
    SwapCell,
    SwapMatrix,
    render_candidate_report,
)
from tests.pdf_layout import assert_clean

PAGES = 7  # the designed layout: one section per page
REPO = Path(__file__).resolve().parents[2]

FEATURES = [
    "bureau_score", "utilisation_ratio", "months_since_last_delinquency", "debt_to_income", "num_open_accounts",
    "inquiries_last_6m", "annual_income", "loan_amount", "employment_length_years", "revolving_balance",
    "age_of_oldest_account", "num_delinquencies_24m", "home_ownership_rent", "loan_purpose_debt_consolidation",
    "term_60_months", "installment_to_income", "num_credit_cards", "region_code", "channel_online",
    "has_mortgage", "public_records", "collections_12m",
]


def _grid(n: int, hi: float = 1.0) -> list[float]:
    return [hi * i / (n - 1) for i in range(n)]


def _metrics(auc: float, ks: float, brier: float, log_loss: float, precision: float, recall: float,
             fbeta: float, threshold: float) -> ModelMetrics:
    return ModelMetrics(auc=auc, auc_low=auc - 0.0041, auc_high=auc + 0.0041, gini=round(2 * auc - 1, 6), ks=ks,
                        brier=brier, log_loss=log_loss,
                        precision=precision, recall=recall, fbeta=fbeta, threshold=threshold, n=48_213,
                        positive_rate=0.0712)


def _group(group: str, rows: int, rate: float, ratio: float, light: str | None, reference: bool = False) -> dict:
    return {"attribute": "age", "kind": "monitored", "group": group, "reference": reference, "rows": rows,
            "approved": round(rows * rate), "approval_rate": rate, "ratio": ratio, "ratio_low": ratio - 0.05,
            "ratio_high": ratio + 0.04, "light": light, "labelled": rows, "bads": rows // 14,
            "default_rate": 1 / 14, "mean_pd": 0.07, "approved_bad_rate": 0.03, "auc": 0.8, "auc_low": 0.77,
            "auc_high": 0.83}


FAIRNESS = {
    "min_ratio": 0.8, "min_group_rows": 50, "min_group_bads": 10,
    "challenger": [[_group("25 to 61", 40_000, 0.81, 1.0, None, True), _group("under 25", 2_100, 0.62, 0.7654, "red"),
                    _group("62 and over", 6_113, 0.86, 1.0617, "green")]],
    "champion": [[_group("25 to 61", 40_000, 0.80, 1.0, None, True), _group("under 25", 2_100, 0.66, 0.825, "green"),
                  _group("62 and over", 6_113, 0.85, 1.0625, "green")]],
    "proxies": {"age": [{"feature": "age_of_oldest_account", "cramers_v": 0.4213, "mutual_information": 0.0931}]},
    "below": ["age group 'under 25': approval rate 62.0% of 2100 rows, adverse impact ratio 0.77 (95% CI 0.72 to "
              "0.81) below 0.8"],
    "reasons": [{"code": "R07", "text": "Number of times 90 days or more past due", "first": 812, "any": 1300,
                 "first_share": 0.4123, "any_share": 0.66}],
    "reasons_from_spec": True, "explained_rows": 1969,
}


def _fair_group(attribute: str, group: str, rows: int, approval: float, ratio: tuple[float, float, float] | None,
                default_rate: float, mean_pd: float, auc: tuple[float, float, float] | None,
                light: str | None = "green") -> dict:
    """A group row as ml.fairness writes it; ratio and auc as (value, low, high), None for the reference / too few."""
    ratio_, low, high = ratio or (1.0, 1.0, 1.0)
    auc_, auc_low, auc_high = auc or (float("nan"),) * 3
    return {"attribute": attribute, "kind": "monitored", "group": group, "reference": ratio is None, "rows": rows,
            "approved": round(rows * approval), "approval_rate": approval, "ratio": ratio_, "ratio_low": low,
            "ratio_high": high, "light": None if ratio is None else light, "labelled": rows,
            "bads": round(rows * default_rate), "default_rate": default_rate, "mean_pd": mean_pd,
            "approved_bad_rate": default_rate / 3, "auc": auc_, "auc_low": auc_low, "auc_high": auc_high}


# Give Me Some Credit's fair-lending page as the demo's first model has it (the figures of its v1 candidate, whose
# Mean PD ran into the AUC column), with a second attribute of more, longer-named groups and the spec's statements
# plus a long one
GMSC_AGE = [_fair_group("age", "25 to 61", 24_792, 0.7108, None, 0.0839, 0.0805, (0.8552, 0.8466, 0.8638)),
            _fair_group("age", "under 25", 453, 0.6071, (0.85, 0.79, 0.92), 0.0795, 0.0899, (0.7717, 0.6890, 0.8543)),
            _fair_group("age", "62 and over", 9_755, 0.9290, (1.31, 1.29, 1.32), 0.0278, 0.0294,
                        (0.8689, 0.8445, 0.8933))]
GMSC_REGION = [_fair_group("region_of_residence", name, rows, rate, ratio, 0.071, 0.0702, auc)
               for name, rows, rate, ratio, auc in [
                   ("metropolitan areas", 18_204, 0.7212, None, (0.8601, 0.8512, 0.8690)),
                   ("rural and remote municipalities", 6_310, 0.6598, (0.91, 0.88, 0.95), (0.8433, 0.8256, 0.8610)),
                   ("overseas territories", 1_117, 0.5502, (0.76, 0.71, 0.82), (0.8012, 0.7613, 0.8411)),
                   ("(missing)", 198, 0.5906, (0.82, 0.73, 0.91), None),
                   ("small towns", 9_171, 0.7401, (1.03, 1.01, 1.05), (0.8577, 0.8423, 0.8731))]]
GMSC_REASONS = [(code, text, first, any_) for code, text, first, any_ in [
    ("R01", "Proportion of revolving credit in use is too high", 3_837, 6_505),
    ("R02", "Number of times 30 to 89 days past due", 2_235, 4_416),
    ("R07", "Number of times 90 days or more past due", 1_549, 1_832),
    ("R05", "Number of credit lines and real estate loans", 298, 3_143),
    ("R08", "Delinquency history not reported by the credit bureau", 64, 64),
    ("R03", "Debt is too high relative to income", 41, 3_965),
    ("R04", "Income insufficient or not reported", 18, 4_580),
    ("R10", "Total balance of revolving accounts, instalment loans and mortgages outstanding is too high relative to "
            "the income stated on the application", 0, 2_566)]]
GMSC_FAIRNESS = {
    "min_ratio": 0.8, "min_group_rows": 50, "min_group_bads": 10,
    "challenger": [GMSC_AGE, GMSC_REGION], "champion": None,
    "proxies": {"age": [{"feature": f, "cramers_v": v, "mutual_information": mi} for f, v, mi in [
        ("NumberOfDependents", 0.22, 0.058), ("RevolvingUtilizationOfUnsecuredLines", 0.20, 0.037),
        ("DebtRatio", 0.19, 0.032), ("NumberOfOpenCreditLinesAndLoans", 0.18, 0.019), ("MonthlyIncome", 0.17, 0.022)]]},
    "below": ["region_of_residence group 'overseas territories': approval rate 55.0% of 1117 rows, adverse impact "
              "ratio 0.76 (95% CI 0.71 to 0.82) below 0.8"],
    "reasons": [{"code": c, "text": t, "first": f, "any": a, "first_share": f / 8_042, "any_share": a / 8_042}
                for c, t, f, a in GMSC_REASONS],
    "reasons_from_spec": True, "explained_rows": 8_042,
}


GRID = [float(v) for v in range(0, 20)]
MONOTONE = [{"feature": "NumberOfTimes90DaysLate", "direction": "increasing", "grid": GRID,
             "pd": [0.02 + 0.01 * v for v in GRID], "holds": True},
            {"feature": "RevolvingUtilizationOfUnsecuredLines", "direction": "increasing", "grid": GRID,
             "pd": [0.05 - 0.001 * v for v in GRID], "holds": False}]


def _scorecard_metrics(auc: float) -> dict[str, float]:
    m = dataclasses.asdict(_metrics(auc, 0.51, 0.06, 0.21, 0.29, 0.64, 0.52, 0.09))
    return {**m, "auc_se": 0.004}


SCORECARD = {
    "candidate": "xgboost", "xgboost": _scorecard_metrics(0.8612), "scorecard": _scorecard_metrics(0.8391),
    "xgboost_calibration": [], "scorecard_calibration": [
        {"band": float(i + 1), "n": 4821.0, "min_p": p * 0.7, "max_p": p * 1.3, "mean_p": p, "observed_rate": p}
        for i, p in enumerate([0.01, 0.03, 0.07, 0.15, 0.3])],
    "gain": {"difference": 0.0221, "se": 0.003, "low": 0.0162, "high": 0.0280},
    "points": [{"feature": "age", "bin": "< 30", "woe": 0.4, "points": 12.5}] * 37,
    "information_value": {"age": 0.1, "DebtRatio": 0.2},
}


def make_data(**changes: object) -> CandidateReportData:
    fpr = _grid(101)
    thresholds = _grid(101, 0.6)
    bands = [0.006, 0.011, 0.018, 0.027, 0.038, 0.052, 0.071, 0.098, 0.142, 0.251]
    edges = _grid(21, 0.6)
    data = CandidateReportData(
        dataset="consumer_loans",
        model_name="consumer_loans_pd",
        version="7",
        run_id="3f9c2a71d04e4b6a9e1c5b8d2f7a6c10",
        as_of="2026-03-31",
        data_window=("2024-04-01", "2026-03-31"),
        data_hash="sha256:9b1de4c07a3f58e2d6b0c4a1f9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c",
        sample_sizes={"train": {"n": 160_704.0, "positive_rate": 0.0698},
                      "valid": {"n": 40_176.0, "positive_rate": 0.0705},
                      "test": {"n": 48_213.0, "positive_rate": 0.0712}},
        verdict="recommended", recommended=True,
        verdict_reason=("The challenger beats the champion on AUC by 0.0157 and on KS by 0.0211 on the same "
                        "out-of-time test sample, is at least as well calibrated (Brier 0.0581 vs 0.0603), and "
                        "its score distribution is stable against the champion's reference (PSI 0.0432)."),
        challenger=_metrics(0.8612, 0.5634, 0.0581, 0.2034, 0.3120, 0.6815, 0.5517, 0.0873),
        champion=_metrics(0.8455, 0.5423, 0.0603, 0.2117, 0.2987, 0.6502, 0.5268, 0.0921),
        champion_version="6",
        beta=2.0,
        threshold_method="fbeta",
        threshold_rationale=("The threshold maximises F2 on the validation sample: missing a bad (a default we "
                             "approve) costs the portfolio about four times as much as declining a good "
                             "applicant, so recall is weighted above precision."),
        roc={"challenger": {"fpr": fpr, "tpr": [x ** 0.28 for x in fpr]},
             "champion": {"fpr": fpr, "tpr": [x ** 0.31 for x in fpr]}},
        ks_curve={"threshold": thresholds,
                  "cum_bad": [1 - (1 - t / 0.6) ** 1.5 for t in thresholds],
                  "cum_good": [1 - (1 - t / 0.6) ** 9 for t in thresholds],
                  "ks": 0.5634, "ks_threshold": 0.0873},
        calibration=[{"band": float(i + 1), "n": 4821.0, "min_p": p * 0.7, "max_p": p * 1.3, "mean_p": p,
                      "observed_rate": p * (1.06 if i % 2 else 0.95)} for i, p in enumerate(bands)],
        score_histogram={"edges": edges,
                         "goods": [round(38_000 * (0.72 ** i)) for i in range(20)],
                         "bads": [round(600 + 2600 * (i / 6) * (0.78 ** i)) for i in range(20)]},
        feature_importance=[(name, round(1843.5 * 0.82 ** i, 2)) for i, name in enumerate(FEATURES)],
        psi_vs_champion=PsiVsChampion(score_psi=0.0432, score_light="green",
                                      features={name: FeatureShift(csi, "green" if csi < 0.10 else
                                                                   "amber" if csi < 0.25 else "red")
                                                for name, csi in zip(FEATURES[:16], [0.012, 0.137, 0.004, 0.061,
                                                                                     0.009, 0.283, 0.021, 0.018,
                                                                                     0.007, 0.044, 0.003, 0.015,
                                                                                     0.002, 0.031, 0.000, 0.026],
                                                                     strict=True)},
                                      eps=1e-4, amber=0.10, red=0.25),
        swap_matrix=SwapMatrix(approve_approve=SwapCell(41_876, 1_204, 0.028751),
                               approve_decline=SwapCell(1_537, 301, 0.195836),
                               decline_approve=SwapCell(1_298, 97, 0.074730),
                               decline_decline=SwapCell(3_502, 1_831, 0.522844)),
        approval_instructions=[
            "Airflow UI: DAGs > consumer_loans_train > the latest run > task `await_approval` > Approve.",
            "Or from the command line: `riskops-ml approve --dataset consumer_loans --version 7`.",
            "Approving promotes version 7 to the Production alias in MLflow; rejecting keeps version 6.",
        ],
        generated_at="2026-04-02T06:15:00+00:00",
        fairness=FAIRNESS,
        monotone=MONOTONE,
        scorecard=SCORECARD,
    )
    return dataclasses.replace(data, **changes)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _image_count(pdf: bytes) -> int:
    """Image XObjects placed on the pages (soft masks hang off the images, so they are not counted)."""
    count = 0
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page["/Resources"].get_object()
        assert isinstance(resources, DictionaryObject)
        xobjects = resources.get("/XObject", DictionaryObject()).get_object()
        assert isinstance(xobjects, DictionaryObject)
        count += sum(1 for ref in xobjects.values() if ref.get_object()["/Subtype"] == "/Image")
    return count


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_candidate_report(make_data())


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return _text(pdf)


def test_is_a_pdf_with_the_designed_page_count(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == PAGES
    assert all(abs(float(p.mediabox.width) - 595.2756) < 0.01 for p in reader.pages)  # A4
    assert [reader.get_destination_page_number(o) for o in reader.outline] == list(range(PAGES))  # a bookmark a page


def test_identity_and_verdict(text: str) -> None:
    for expected in ("consumer_loans_pd", "version 7", "3f9c2a71d04e4b6a9e1c5b8d2f7a6c10", "consumer_loans",
                     "2026-03-31", "2024-04-01 to 2026-03-31", "Verdict: Recommended"):
        assert expected in text, expected
    assert "not recommended" not in text.lower()
    # the hash may wrap inside its table cell; it must be there in full
    assert "sha256:9b1de4c07a3f58e2d6b0c4a1f9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c" in text.replace("\n", "")


def test_metrics_table_formatting(text: str) -> None:
    assert "0.8455" in text and "0.8612" in text  # champion and challenger AUC, 4 decimals
    assert "+0.0157" in text  # AUC difference
    assert "\u22120.0022" in text  # Brier difference, true minus sign
    assert "F-beta (\u03b2 = 2)" in text
    assert "0.0873" in text  # production threshold
    assert "7.12%" in text  # positive rate, 2 decimals
    assert "Page 1 of 7" in text and "Page 7 of 7" in text


def light_rows(text: str) -> dict[str, tuple[str, str]]:
    """Rows of the PSI/CSI tables as extracted text: name -> (value, light); each cell is one line."""
    return {m[1]: (m[2], m[3]) for m in re.finditer(r"^(.+)\n(\d\.\d{4})\n(\S+)$", text, re.M)}


def test_sections_and_psi_legend(text: str) -> None:
    for expected in ("1. Summary", "2. Discrimination", "3. Calibration and score distribution",
                     "4. Feature importance and population stability", "5. Fair lending and reasons",
                     "6. Monotone constraints and the scorecard challenger", "7. Decision impact and approval",
                     "\u03b5 = 0.0001", "below 0.10 green", "0.10 to 0.25 amber", "0.25 or more red"):
        assert expected in text.replace("\n", " "), expected


def test_psi_rows_show_their_lights(text: str) -> None:
    psi = make_data().psi_vs_champion
    assert psi is not None
    rows = light_rows(text)
    assert rows["Score PSI"] == ("0.0432", "green")
    for name, v in psi.features.items():
        assert rows[name] == (f"{v.csi:.4f}", v.light), name
    assert {v.light for v in psi.features.values()} == {"green", "amber", "red"}  # every light is checked


def test_psi_lights_eps_and_thresholds_come_from_the_data() -> None:
    """The report grades nothing: it shows the lights, epsilon and thresholds it is given."""
    given = {"bureau_score": FeatureShift(0.004, "red"), "annual_income": FeatureShift(0.4, "green"),
             "loan_amount": FeatureShift(0.15, "amber")}
    text = _text(render_candidate_report(make_data(psi_vs_champion=PsiVsChampion(
        score_psi=0.31, score_light="amber", features=given, eps=1e-3, amber=0.2, red=0.35))))
    rows = light_rows(text)
    assert rows["Score PSI"] == ("0.3100", "amber")
    assert rows["bureau_score"] == ("0.0040", "red")
    assert rows["annual_income"] == ("0.4000", "green")
    assert rows["loan_amount"] == ("0.1500", "amber")
    for expected in ("\u03b5 = 0.001 ", "below 0.20 green", "0.20 to 0.35 amber", "0.35 or more red"):
        assert expected in text.replace("\n", " "), expected


def test_rejects_psi_without_eps_or_thresholds() -> None:
    """A typed input: the stability without its epsilon or a threshold cannot be made (mypy names it first)."""
    with pytest.raises(TypeError, match="eps"):
        PsiVsChampion(score_psi=0.1, score_light="green", features={}, amber=0.1, red=0.25)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="red"):
        PsiVsChampion(score_psi=0.1, score_light="green", features={}, eps=1e-4, amber=0.1)  # type: ignore[call-arg]


def test_swap_matrix_threshold_and_approval(text: str) -> None:
    for expected in ("41,876", "1,537", "1,298", "3,502", "19.58%", "52.28%", "Swap-in", "Swap-out",
                     "How to approve", "riskops-ml approve --dataset consumer_loans --version 7",
                     "F-beta maximisation", "missing a bad"):
        assert expected in text, expected


def test_the_swap_matrix_and_the_threshold_name_the_same_thresholds(pdf: bytes) -> None:
    """The decision page says which threshold each model decides at, and the one printed as the production
    threshold is the challenger's (0.0873), not the champion's (0.0921)."""
    page = next(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages
                if "Swap matrix" in p.extract_text())
    assert "Swap matrix: each model at its own production threshold" in page
    assert "Champion v6 decides at its production threshold 0.0921" in page
    assert "challenger v7 at its own, 0.0873" in page
    assert "Challenger v7's production threshold Threshold 0.0873" in page


def test_the_footer_keeps_the_whole_dataset_name() -> None:
    name = "a_dataset_with_a_rather_long_name_of_forty_nine_c"
    last = PdfReader(io.BytesIO(render_candidate_report(make_data(dataset=name)))).pages[-1].extract_text()
    assert f"Dataset {name} \u00b7 generated" in last


def test_contains_the_charts(pdf: bytes) -> None:
    assert _image_count(pdf) >= 5  # ROC, KS, calibration, score histogram, feature importance


def test_deterministic_bytes(pdf: bytes) -> None:
    assert render_candidate_report(make_data()) == pdf


def test_deterministic_across_processes(pdf: bytes) -> None:
    """A fresh interpreter (fresh font, matplotlib and reportlab state) gives the same bytes too."""
    code = ("import pickle, sys; from reports.candidate import render_candidate_report; "
            "sys.stdout.buffer.write(render_candidate_report(pickle.load(sys.stdin.buffer)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, input=pickle.dumps(make_data()),
                         capture_output=True, check=True).stdout
    assert out == pdf


def test_first_model_has_no_champion() -> None:
    data = make_data(champion=None, champion_version=None, psi_vs_champion=None, swap_matrix=None,
                     roc={"challenger": make_data().roc["challenger"]})
    pdf = render_candidate_report(data)
    text = _text(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == PAGES
    assert text.count("First model: no champion to compare") >= 3  # metrics, PSI, swap
    assert "none: first model for this dataset" in text
    assert "0.8612" in text and "0.8455" not in text
    assert "Swap-in" not in text and "Score PSI" not in text
    assert _image_count(pdf) >= 5


def test_not_recommended_verdict_and_literal_text() -> None:
    """The verdict shows as not recommended; free text with markup characters is shown literally."""
    pdf = render_candidate_report(make_data(
        verdict="not recommended", recommended=False,
        verdict_reason="AUC <b>up</b> by only 0.0004 & score PSI 0.3120 > 0.25 (red): the population moved.",
        psi_vs_champion=PsiVsChampion(score_psi=0.3120, score_light="red", features={}, eps=1e-4, amber=0.10,
                                      red=0.25)))
    text = _text(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == PAGES
    assert "Verdict: Not recommended" in text
    assert "AUC <b>up</b> by only 0.0004 & score PSI 0.3120 > 0.25 (red): the population moved." in text
    assert "No per-feature CSI was supplied" in text


def test_a_drift_trigger_is_named_on_the_first_page(text: str) -> None:
    assert "scheduled or manual retraining" in text
    reason = ("drift in consumer_loans (day 2026-03-30, model v6): score PSI 0.3120 is red (>= 0.25); 4 red "
              "features (>= 3): income (CSI 0.4120), utilisation (CSI 0.3310), age (CSI 0.2900), region (CSI "
              "0.2600); 2 more window(s) call for a retraining")
    pdf = render_candidate_report(make_data(trigger=reason))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == PAGES
    first = " ".join(reader.pages[0].extract_text().split())
    assert f"drift found by stability monitoring: {reason}" in first


def test_reports_package_stays_pure() -> None:
    """reports/ never imports airflow or ml."""
    for path in sorted((REPO / "reports").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("airflow", "ml"), f"{path.name} imports {name}"


def test_feature_importance_counts_every_feature_the_model_takes() -> None:
    """Retraining passes the model's feature count: features that never split are features too."""
    text = _text(render_candidate_report(make_data(feature_count=27))).replace("\n", " ")
    assert "Top 15 of 27 features by gain" in text
    assert "Top 15 of 22 features by gain" in _text(render_candidate_report(make_data())).replace("\n", " ")


def test_the_first_page_shows_the_auc_interval_and_what_the_window_lost() -> None:
    gaps = ["14 of the window's 30 business days were not preprocessed and are missing from the development "
            "sample: 2026-09-01, 2026-09-03, 2026-09-05, 2026-09-07, 2026-09-09 and 9 more",
            "1 of the window's 30 business days failed their quality gate and are missing from the development "
            "sample: 2026-09-12"]
    assert len(PdfReader(io.BytesIO(render_candidate_report(make_data(window_gaps=gaps[:1])))).pages) == PAGES
    pdf = render_candidate_report(make_data(window_gaps=gaps))  # the metrics table may then run onto a page more
    reader = PdfReader(io.BytesIO(pdf))
    first = " ".join(reader.pages[0].extract_text().split())
    assert all(f"Data window incomplete: {gap}." in first for gap in gaps)
    assert "AUC 95% interval \u2014 0.8414\u20130.8496 0.8571\u20130.8653 \u2014" in first  # champion, challenger
    assert "Data window incomplete" not in _text(render_candidate_report(make_data()))
    everything = " ".join(_text(pdf).split())
    assert "Challenger AUC 0.8612 [0.8571, 0.8653], champion AUC 0.8455 [0.8414, 0.8496] (95% intervals" in everything


def test_the_fairness_page_shows_both_models_the_proxies_and_the_reasons(text: str) -> None:
    flat = " ".join(text.split())
    for expected in ("age (monitored)", "v6 approval", "v7 AIR [95% CI]", "v6: the champion",
                     "0.77 [0.72, 0.81]", "0.82 [0.77, 0.86]", "reference", "62.00%",  # challenger, champion
                     "0.8000 [0.7700, 0.8300]",  # AUC by group
                     "age_of_oldest_account (V 0.42, MI 0.093)", "Below the minimum ratio:",
                     "R07", "Number of times 90 days or more past due", "41.23% (812)", "66.00% (1,300)",
                     "1,969 test rows"):
        assert expected in flat, expected


def test_a_report_without_statements_says_its_reasons_are_feature_names() -> None:
    pdf = render_candidate_report(make_data(fairness={**FAIRNESS, "reasons_from_spec": False}))
    assert "The spec has no reason statements" in " ".join(_text(pdf).split())
def test_the_identity_table_shows_the_champion_history_line() -> None:
    line = ("2026-03-02T10:15:00+00:00 promoted v6 by Ada Lovelace, Grace Hopper (report 0123456789ab, previous "
            "champion v5): Ada Lovelace: stable; Grace Hopper: agreed; HALTED by Linus at 2026-03-30T08:00:00+00:00: "
            "bureau feed broken")
    reader = PdfReader(io.BytesIO(render_candidate_report(make_data(champion_line=line))))
    assert len(reader.pages) == PAGES
    first = " ".join(reader.pages[0].extract_text().split())
    assert f"version 6 (current production model); {line}" in first


def test_the_credit_practice_page_shows_the_partial_dependence_lines_and_the_scorecard(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    page = " ".join(reader.pages[5].extract_text().split())
    assert "6. Monotone constraints and the scorecard challenger" in page
    assert "The direction does not hold for RevolvingUtilizationOfUnsecuredLines." in page
    assert "Scorecard challenger" in page and "XGBoost (candidate)" in page and "Scorecard" in page
    assert "0.8391" in page and "0.8612" in page and "XGBoost minus scorecard AUC: 0.0221 [0.0162, 0.0280]" in page
    assert "Its points table (37 bins" in page
    assert "Version 7 (XGBoost, gradient-boosted trees)" in " ".join(reader.pages[0].extract_text().split())
    plain = " ".join(PdfReader(io.BytesIO(render_candidate_report(make_data(monotone=[], scorecard=None))))
                     .pages[5].extract_text().split())
    assert "The spec constrains no feature" in plain and "Not computed for this candidate." in plain


def _first_model(**changes: object) -> CandidateReportData:
    return make_data(champion=None, champion_version=None, psi_vs_champion=None, swap_matrix=None,
                     roc={"challenger": make_data().roc["challenger"]}, **changes)


def _against_a_champion() -> CandidateReportData:
    champion = [[{**g, "approval_rate": g["approval_rate"] - 0.02} for g in groups]
                for groups in GMSC_FAIRNESS["challenger"]]
    return make_data(fairness={**GMSC_FAIRNESS, "champion": champion})


@pytest.mark.parametrize("variant", ["typical", "gmsc-first-model", "gmsc-against-a-champion"])
def test_no_word_overlaps_another_or_leaves_the_page(variant: str) -> None:
    """Every page passes the layout checker, the fair-lending page of Give Me Some Credit's first model included
    (its Mean PD ran into the AUC column and "First reason" into "Among the reasons")."""
    data = {"typical": make_data, "gmsc-first-model": lambda: _first_model(fairness=GMSC_FAIRNESS),
            "gmsc-against-a-champion": _against_a_champion}[variant]()
    pdf = render_candidate_report(data)
    assert_clean(pdf, variant)
    page = " ".join(PdfReader(io.BytesIO(pdf)).pages[4].extract_text().split())
    if variant != "typical":  # the cells read as themselves: each number whole, apart from its neighbours
        assert "8.39% 8.05% 0.8552 [0.8466, 0.8638]" in page
        assert "First reason Among the reasons" in page
        assert "R01 Proportion of revolving credit in use is too high 47.71% (3,837) 80.89% (6,505)" in page
