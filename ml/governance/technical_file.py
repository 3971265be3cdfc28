"""A model version's technical file: its nine sections filled from what riskops holds, rendered at registration
and re-rendered on demand (`python -m ml document`), byte-identical for the same inputs.

The inputs (`Sources`) are read from the stores, the same way at registration and afterwards: the dataset's spec,
the candidate's summary (`candidates/<ds>/v=V/candidate.json`), the training run's parameters in MLflow, the
preprocess manifests of the data window, and this dataset's versions with their decisions and the champion
history *before the registration's timestamp* (so a later promotion does not change the file of an earlier
version). `build` turns them into the renderer's data and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from mlflow import MlflowClient

from ml import layout
from ml.data.preprocess import read_manifest
from ml.dates import business_days
from ml.errors import RiskopsError
from ml.governance import champions, registry
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key
from reports.technical_file import SECTION_TITLES, Facts, Lines, Rows, Section, TechnicalFileData
from reports.technical_file import render_technical_file as _render

FILE_NAME = "technical_file.pdf"  # candidates/<ds>/v=V/technical_file.pdf, beside candidate.pdf
ARTIFACT_DIR = "technical_file"  # the folder of the version's MLflow run that holds it
SHA_TAG = "technical_file_sha256"  # riskops.technical_file_sha256 on the version
WIDE_INTERVAL = 0.10  # an AUC interval wider than this is called wide in the limitations
SMALL_SAMPLE_FACTOR = 3  # a sample under this many times the spec's training.min_rows is called small


@dataclass(frozen=True)
class Sources:
    """Everything a technical file is made of, as read from the stores."""

    spec: DatasetSpec
    summary: dict[str, Any]  # candidate.json
    params: dict[str, str]  # the training run's MLflow parameters
    manifests: list[dict[str, Any]]  # the preprocess manifests of the data window's business days, oldest first
    missing_days: list[str]  # the window's business days without a manifest
    versions: list[dict[str, Any]]  # {version, as_of, verdict, decisions} of versions up to this one
    champion_events: list[dict[str, Any]]  # champion history before the registration


def key(dataset: str, version: str) -> str:
    """Where the version's technical file is stored (write-once)."""
    return layout.candidate(dataset, version, FILE_NAME)


def artifact_name(name: str, version: str) -> str:
    return f"{name}-v{version}-technical-file.pdf"


# ------------------------------------------------------------------------------------------- reading

def _before(at: Any, cutoff: dt.datetime) -> bool:
    """Whether an event's timestamp is strictly before the registration (an unreadable one is not)."""
    try:
        when = dt.datetime.fromisoformat(str(at))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when < cutoff


def gather(storage: Storage, client: MlflowClient, spec: DatasetSpec, summary: dict[str, Any]) -> Sources:
    """Read a version's sources from storage and MLflow; `summary` is its candidate.json."""
    name, version = str(summary["model_name"]), str(summary["version"])
    cutoff = dt.datetime.fromisoformat(str(summary["registered_at"]))
    cutoff = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=dt.timezone.utc)
    run = registry.call(client, f"reading the training run of {name} version {version}",
                        lambda: client.get_run(str(summary["run_id"])))
    start, end = (dt.date.fromisoformat(d) for d in summary["window"])
    manifests, missing = [], []
    for day in business_days(spec, start, end):
        manifest = read_manifest(storage, spec.name, day)
        if manifest is None:
            missing.append(day.isoformat())
        else:
            manifests.append(manifest)
    versions = []
    for mv in registry.versions(client, name):
        if version_key(mv.version) > version_key(version):
            continue
        trail = [e for e in registry.audit_trail(client, name, str(mv.version)) if _before(e.get("at"), cutoff)]
        tags = {k.removeprefix(registry.TAG): v for k, v in mv.tags.items() if k.startswith(registry.TAG)}
        versions.append({"version": str(mv.version), "as_of": tags.get("as_of", ""),
                         "verdict": tags.get("verdict", ""), "decisions": trail})
    events = [asdict(e) for e in champions.history(client, name) if _before(e.at, cutoff)]
    return Sources(spec=spec, summary=summary, params=dict(sorted(run.data.params.items())), manifests=manifests,
                   missing_days=missing, versions=versions, champion_events=events)


def roundtrip(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as it reads back from candidate.json (what a re-render starts from)."""
    # as ml.storage.Storage.write_json writes it: sorted keys, so every dict iterates in the stored order
    return json.loads(json.dumps(summary, sort_keys=True, default=str))  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ wording

def _f4(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.4f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.2%}"


def _auc(m: dict[str, Any]) -> str:
    return f"{_f4(m['auc'])} (95% CI {_f4(m.get('auc_low'))} to {_f4(m.get('auc_high'))})"


def _samples(summary: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """The development samples in time order (train, valid, test)."""
    order = {"train": 0, "valid": 1, "test": 2}
    return sorted(summary["samples"].items(), key=lambda kv: (order.get(kv[0], 3), kv[0]))


def _purpose(s: Sources) -> Section:
    doc, spec = s.spec.documentation, s.spec
    missing = doc.missing()

    def said(text: str) -> str:
        return text.strip() or "not stated in the spec"
    blocks: list[Any] = [Facts([
        ("Dataset", spec.name), ("Description", said(spec.description)), ("Intended use", said(doc.intended_use)),
        ("Users", said(doc.users)), ("Decisions made", said(doc.decisions)), ("Model owner", said(doc.owner)),
        ("Contact", said(doc.contact)), ("Review period", f"{doc.review_period_days} days from the day a version "
                                                          "becomes the champion"),
        ("Target (positive outcome)", f"{spec.label.column} = {', '.join(spec.label.positive)}"),
        ("Outcome window", f"labels mature {spec.label.maturity_lag_days} days after the business day"),
    ])]
    if missing:
        blocks.append(Lines([f"The spec's documentation section leaves {', '.join(missing)} blank: fill them in "
                             "datasets/<dataset>.yaml (documentation)."]))
    return Section(1, SECTION_TITLES[0], blocks)


def _data(s: Sources) -> Section:
    spec, summary, a = s.spec, s.summary, s.summary["data_accounting"]
    rows_in = sum(int(m["rows_in"]) for m in s.manifests)
    clean = sum(int(m["rows_clean"]) for m in s.manifests)
    quarantined = sum(int(m["rows_quarantined"]) for m in s.manifests)
    by_column: dict[str, int] = {}
    examples: dict[str, str] = {}
    for m in s.manifests:
        for column, rows in m["stats"].get("reasons_by_column", {}).items():
            by_column[column] = by_column.get(column, 0) + int(rows)
        for r in m["stats"].get("top_reasons", []):
            examples.setdefault(r["column"], str(r["example"]))
    top = sorted(by_column, key=lambda c: (-by_column[c], c))[:5]
    source = spec.source
    where = "not stated (batches are delivered to landing/)" if source is None else (
        f"{source.kind}" + (f": {source.package}/{source.path}" if source.package else
                            f": {source.path}" if source.path else ""))
    facts = Facts([
        ("Source", where),
        ("Landing zone", f"landing/{spec.name}/date=D/ (raw daily batches, never modified)"),
        ("Data window", f"{summary['window'][0]} to {summary['window'][1]} (as of {summary['as_of']}; "
                        f"{a.get('business_days', 0)} business days, {a.get('days_used', 0)} used)"),
        ("Rows landed", f"{rows_in:,} = {clean:,} clean + {quarantined:,} quarantined "
                        f"({_pct(quarantined / rows_in if rows_in else 0.0)})"),
        ("Outcomes", f"{a.get('positive_outcomes', 0):,} positive, {a.get('negative_outcomes', 0):,} negative, "
                     f"{a.get('unknown_outcomes', 0):,} unknown (left out, never read as good)"),
        ("Days left out", "; ".join(f"{len(a.get(k) or [])} {what}" for k, what in (
            ("missing_days", "not preprocessed"), ("failed_quality_days", "failed their quality gate"),
            ("fully_quarantined_days", "fully quarantined")))),
        ("Samples", "; ".join(f"{k} {v['rows']:,} rows, {v['positives']:,} positive"
                              for k, v in _samples(summary))),
        ("Data hash", str(summary["data_hash"])),
    ], title="Sources, window and row accounting", mono=("Data hash",))
    reasons = Rows(["Column", "Rows quarantined", "Example reason"],
                   [[c, f"{by_column[c]:,}", examples.get(c, "")] for c in top],
                   title="Top quarantine reasons in the window", widths=[0.25, 0.15, 0.6])
    days = Rows(["Business day", "Rows in", "Clean", "Quarantined", "Input SHA-256"],
                [[str(m["date"]), f"{int(m['rows_in']):,}", f"{int(m['rows_clean']):,}",
                  f"{int(m['rows_quarantined']):,}", str(m["input_sha256"])] for m in s.manifests]
                + [[d, "", "", "", "no manifest (not preprocessed)"] for d in s.missing_days],
                title="Preprocess manifests of the window", widths=[0.14, 0.1, 0.1, 0.12, 0.54])
    return Section(2, SECTION_TITLES[1], [facts, reasons, days])


def _allowed(spec: DatasetSpec, name: str) -> tuple[str, str]:
    """(type, allowed range or categories) of a model input: a column, a kv key or a derived feature."""
    derived = next((f for f in spec.derived if f.name == name), None)
    if derived is not None:
        return "derived", f"{derived.kind} of {', '.join(derived.sources)}"
    column = next((c for c in spec.columns if c.name == name), None)
    key_spec = None if column else next((k for c in spec.columns for k in c.keys or []
                                         if f"{c.name}_{k.name}" == name), None)
    item: Any = column or key_spec
    if item is None:
        return "?", ""
    if item.type == "category":
        return "category", ", ".join(item.categories or [])
    if item.type in ("int", "float"):
        low = "" if item.min is None else f"{item.min:g}"
        high = "" if item.max is None else f"{item.max:g}"
        return item.type, f"{low or '-inf'} to {high or 'inf'}" if (low or high) else "any"
    return str(item.type), ""


def _features(s: Sources) -> Section:
    spec = s.spec
    names = [str(n) for n in s.summary.get("features") or [*spec.model_inputs, *(f.name for f in spec.derived)]]
    clean = {n: 0.0 for n in names}
    total = 0
    for m in s.manifests:
        rows = int(m["rows_clean"])
        total += rows
        for n in names:
            clean[n] += float(m["stats"].get("null_rate", {}).get(n, 0.0)) * rows
    statement = {f: f"{st.code}: {st.text}" for st in spec.reasons.statements for f in st.features}
    importance = {str(f): i + 1 for i, (f, _) in enumerate(s.summary.get("feature_importance") or [])}
    directions = dict(spec.monotone)
    checked = {str(c["feature"]): bool(c["holds"]) for c in s.summary.get("monotone") or []}

    def monotone(n: str) -> str:
        if n not in directions:
            return "none"
        held = checked.get(n)
        return directions[n] + ("" if held is None else " (holds)" if held else " (does NOT hold)")
    inputs: list[list[str]] = []
    for n in names:
        kind, allowed = _allowed(spec, n)
        inputs.append([n, kind, allowed, _pct(clean[n] / total) if total else "n/a", monotone(n),
                       str(importance.get(n, "unused")), statement.get(n, "none (never given as a reason)")])
    table = Rows(["Feature", "Type", "Allowed range or categories", "Missing", "Monotone", "Rank", "Reason statement"],
                 inputs, title="Model inputs", widths=[0.18, 0.08, 0.2, 0.08, 0.13, 0.07, 0.26])
    never = sorted(spec.protected_columns)
    notes = ["Missing: the share of the window's clean rows without a value (preprocess manifests); missing "
             "values go to the model as missing (XGBoost's native handling), and outside the allowed range a row is "
             "quarantined with its reason, never clipped."]
    if never:
        notes.append(f"Protected attributes, never a model input nor a reason: {', '.join(never)}.")
    notes.append("Monotone: the direction of the PD as the feature grows, from the spec, imposed on the model "
                 "(XGBoost's monotone_constraints; the scorecard's bins pooled to it); (holds) when the candidate's "
                 "partial-dependence line on the development sample goes that way. Rank: by gain (a scorecard: by "
                 "information value).")
    if directions and not checked:
        notes.append("The spec names monotone features, but this version's summary holds no partial-dependence "
                     "check of them.")
    return Section(3, SECTION_TITLES[2], [table, Lines(notes)])


def _design(s: Sources) -> Section:
    p, summary, policy = s.params, s.summary, s.spec.policy
    card = summary.get("algorithm") == "scorecard"
    prefix = "scorecard." if card else "xgb."
    xgb = Rows(["Parameter", "Value"], [[k.removeprefix(prefix), v] for k, v in p.items() if k.startswith(prefix)],
               title=f"{'Scorecard' if card else 'Booster'} parameters (the training run's MLflow parameters)",
               widths=[0.4, 0.6])
    calibration = p.get("train.calibration_method", "")
    facts = Facts([
        ("Algorithm", "scorecard: weight-of-evidence bins (pooled to the spec's monotone directions, missing values "
                      "a bin of their own) and a logistic regression, stored as an XGBoost booster of one tree per "
                      "feature" if card else
                      "XGBoost gradient-boosted trees (tree method hist, native missing values and categoricals), "
                      "logistic objective; the feature pipeline (columns, order, dtypes, category lists) is stored "
                      "with the booster"),
        ("Trees", f"{p.get('best_iteration', '?')} (one per feature)" if card else
         f"{p.get('best_iteration', '?')} (early stopping on the validation sample)"),
        ("Split", f"time-based: the last {p.get('train.test_days', '?')} business days are the out-of-time test, "
                  f"the {p.get('train.valid_days', '?')} before them validation, the rest of the "
                  f"{p.get('train.window_days', '?')}-day window training"),
        ("Weights", "rows weighted by the exposure column (mean weight 1)" if p.get("train.cost_sensitive") == "True"
         else "none (every row weighs the same)"),
        ("Calibration", calibration if calibration not in ("", "None") else "none (the booster's PDs as they are)"),
        ("Threshold", f"{_f4(summary['threshold'])} by {p.get('train.threshold_method', '?')}: "
                      f"{summary.get('threshold_rationale', '')}"),
        ("Seed", p.get("train.seed", "?")),
    ], title="Algorithm and training")
    bands = policy.bands
    band_text = {"pd_quantiles": f"PD quantiles of the development sample, {', '.join(bands.band_names)}",
                 "master_scale": "master scale: " + ", ".join(f"{b.name} up to PD {b.max_pd:g}"
                                                               for b in bands.master_scale or []),
                 "score": "score bands: " + ", ".join(f"{b.name} from {b.min_score:g}"
                                                      for b in bands.score_bands or [])}[bands.method]
    routing = (f"approve from score {policy.approve_min_score:g}, decline below {policy.decline_below_score:g}, "
               "review between" if policy.approve_min_score is not None else
               f"decline at PD >= the threshold, review at PD >= {policy.review_fraction:g} x the threshold, "
               "approve below")
    policy_facts = Facts([
        ("Score scale", f"{policy.base_score:g} points at odds {policy.base_odds:g}:1 (good:bad), {policy.pdo:g} "
                        "points to double the odds"),
        ("Bands", band_text), ("Routing", routing),
        ("Reason codes", "for declined and referred rows" if policy.reason_codes == "adverse" else "for every row"),
    ], title="Policy")
    rules = Rows(["Code", "When", "Action"], [[r.code, r.when, r.action] for r in policy.hard_rules],
                 title="Hard rules (checked before the model; the first match decides)", widths=[0.35, 0.45, 0.2])
    return Section(4, SECTION_TITLES[3], [facts, xgb, policy_facts, rules])


def _validation(s: Sources) -> Section:
    summary = s.summary
    m, c = summary["metrics"], summary.get("champion_metrics")
    keys = [("AUC", "auc"), ("Gini", "gini"), ("KS", "ks"), ("Brier score", "brier"), ("Log loss", "log_loss"),
            ("Precision", "precision"), ("Recall", "recall"), ("F-beta", "fbeta")]
    header = ["Metric", f"Candidate v{summary['version']}"] + ([f"Champion v{summary['champion_version']}"] if c else [])
    rows = [[label, _auc(m) if k == "auc" else _f4(m.get(k))] + ([_auc(c) if k == "auc" else _f4(c.get(k))]
                                                              if c else []) for label, k in keys]
    rows.append(["Test rows (positive)", f"{m['n']} ({m.get('positives', '?')})"]
                + ([f"{c['n']} ({c.get('positives', '?')})"] if c else []))
    metrics = Rows(header, rows, title="Out-of-time test", widths=[0.3, 0.35, 0.35] if c else [0.4, 0.6])
    verdict = [f"Verdict: {summary['verdict']}: {summary['verdict_reason']}"]
    gain = summary.get("gain")
    if gain:
        d, se = gain["difference"], gain["se"]
        verdict.append(f"AUC gain over the champion on the same rows: {d:+.4f} (95% CI {d - 1.96 * se:+.4f} to "
                       f"{d + 1.96 * se:+.4f}, DeLong's paired test).")
    else:
        verdict.append("No champion: this is the dataset's first model, judged against chance.")
    blocks: list[Any] = [metrics, Lines(verdict)]
    blocks.append(Rows(["Band", "Rows", "PD range", "Mean PD", "Observed rate"],
                       [[str(r.get("band", "")), f"{int(r['n']):,}", f"{_f4(r.get('min_p'))} to {_f4(r.get('max_p'))}",
                         _f4(r.get("mean_p")), _f4(r.get("observed_rate"))] for r in summary.get("calibration") or []],
                       title="Calibration by band (out-of-time test)"))
    psi = summary.get("psi_vs_champion")
    if psi:
        worst = sorted(psi["features"].items(), key=lambda kv: -kv[1]["csi"])[:5]
        blocks.append(Lines([f"Score PSI of the development sample on the champion's reference bins: "
                             f"{_f4(psi['score_psi'])} ({psi['score_light']}); highest CSI: "
                             + ", ".join(f"{f} {_f4(v['csi'])} ({v['light']})" for f, v in worst) + "."],
                            title="Stability against the champion"))
    else:
        blocks.append(Lines(["No champion to compare the population with."], title="Stability against the champion"))
    fairness = summary.get("fairness")
    if fairness and fairness.get("challenger"):
        rows = [[g["attribute"], g["group"] + (" (reference)" if g["reference"] else ""), f"{g['rows']:,}",
                 _pct(g["approval_rate"]),
                 f"{_f4(g['ratio'])} ({_f4(g['ratio_low'])} to {_f4(g['ratio_high'])})", str(g["light"] or ""),
                 _pct(g.get("default_rate"))] for groups in fairness["challenger"] for g in groups]
        blocks.append(Rows(["Attribute", "Group", "Rows", "Approval rate", "Adverse impact ratio (95% CI)", "Light",
                            "Default rate"], rows, title=f"Fair lending (minimum ratio {fairness['min_ratio']:g})",
                           widths=[0.14, 0.17, 0.09, 0.12, 0.26, 0.11, 0.11]))
        if fairness.get("below"):
            blocks.append(Lines(list(fairness["below"])))
    else:
        blocks.append(Lines(["The spec names no fairness attributes."], title="Fair lending"))
    blocks += _scorecard(summary.get("scorecard"))
    return Section(5, SECTION_TITLES[4], blocks)


def _scorecard(review: dict[str, Any] | None) -> list[Any]:
    """The scorecard and the XGBoost model side by side, and the scorecard's points table."""
    if not review:
        return [Lines(["No scorecard was trained beside this candidate (registered before riskops trained one)."],
                      title="Scorecard challenger")]
    x, c, g = review["xgboost"], review["scorecard"], review["gain"]
    keys = [("AUC", "auc"), ("KS", "ks"), ("Brier score", "brier"), ("Gini", "gini")]
    rows = [[label, _auc(x) if k == "auc" else _f4(x.get(k)), _auc(c) if k == "auc" else _f4(c.get(k))]
            for label, k in keys]
    candidate = "the scorecard is the candidate" if review["candidate"] == "scorecard" else \
        "the XGBoost model is the candidate"
    lines = [f"Both trained on the same development sample and judged on the same out-of-time test; {candidate}. "
             f"XGBoost minus scorecard AUC: {g['difference']:+.4f} (95% CI {g['low']:+.4f} to {g['high']:+.4f}, "
             "DeLong's paired test)."]
    points = Rows(["Feature", "Bin", "Weight of evidence", "Points"],
                  [[str(r["feature"]), str(r["bin"]), _f4(r["woe"]), f"{r['points']:.1f}"] for r in review["points"]],
                  title="Scorecard points (a row's points summed over its features give its score)",
                  widths=[0.34, 0.34, 0.16, 0.16])
    value = Rows(["Feature", "Information value"],
                 [[f, _f4(v)] for f, v in sorted(review["information_value"].items(), key=lambda kv: (-kv[1], kv[0]))],
                 title="Information value", widths=[0.6, 0.4])
    return [Rows(["Metric", "XGBoost", "Scorecard"], rows, title="Scorecard challenger", widths=[0.3, 0.35, 0.35]),
            Lines(lines), points, value]


def _limitations(s: Sources) -> Section:
    summary, spec, m = s.summary, s.spec, s.summary["metrics"]
    lines = []
    for name, counts in _samples(summary):
        if counts["rows"] < SMALL_SAMPLE_FACTOR * spec.training.min_rows or \
                counts["positives"] < SMALL_SAMPLE_FACTOR * spec.training.min_positives:
            lines.append(f"Small sample: {name} holds {counts['rows']:,} rows with {counts['positives']:,} positive "
                         f"outcomes, under {SMALL_SAMPLE_FACTOR} times the spec's minimum "
                         f"({spec.training.min_rows} rows, {spec.training.min_positives} positives).")
    if m.get("auc_high") is not None and m["auc_high"] - m["auc_low"] > WIDE_INTERVAL:
        lines.append(f"Wide interval: the out-of-time AUC's 95% interval spans {m['auc_high'] - m['auc_low']:.4f} "
                     f"({_f4(m['auc_low'])} to {_f4(m['auc_high'])}).")
    lines += [f"Data window incomplete: {gap}." for gap in summary.get("gaps") or []]
    a = summary["data_accounting"]
    if a.get("unknown_outcomes"):
        lines.append(f"{a['unknown_outcomes']:,} matured rows had an unknown outcome and were left out of training.")
    quarantined = sum(int(x["rows_quarantined"]) for x in s.manifests)
    if quarantined:
        ranges = sorted({r["column"] for x in s.manifests for r in x["stats"].get("top_reasons", [])})
        lines.append(f"{quarantined:,} rows of the window were quarantined (values out of the allowed range or "
                     f"category, unreadable or missing where required; columns: {', '.join(ranges)}): the model "
                     "never saw values outside the spec's ranges, and scoring quarantines them the same way.")
    fairness = summary.get("fairness") or {}
    small = [f"{g['attribute']} {g['group']}" for groups in fairness.get("challenger") or [] for g in groups
             if g["light"] == "too few rows"]
    if small:
        lines.append(f"Groups too small to judge (under {fairness['min_group_rows']} rows): {', '.join(small)}.")
    lines.append(f"The model is valid for the population of the data window ({summary['window'][0]} to "
                 f"{summary['window'][1]}); stability monitoring says when the population moves away from it.")
    return Section(6, SECTION_TITLES[5], [Lines(lines)])


def _oversight(s: Sources) -> Section:
    spec, summary = s.spec, s.summary
    quorum = int(summary.get("quorum", 1))
    fallback = spec.oversight.fallback
    ds = spec.name
    lines = [
        f"Who approves: the approvers (RISKOPS_APPROVER_USERS) in Airflow's approval task of retrain_{ds}, or with "
        f"python -m ml promote; {quorum} distinct approver(s) must approve, each approval bound to the report's and "
        "the model files' SHA-256; a rejection by any approver ends it.",
        "With RISKOPS_SEPARATE_DUTIES=on, whoever triggered the retraining or trained the version may not approve it.",
        f"Halt: python -m ml halt --dataset {ds} (or the halt DAG) stops the model at once; while halted, "
        + (f"scoring applies the fallback policy ({fallback.describe()})." if fallback else
           "scoring refuses (the spec has no fallback policy)."),
        f"Roll back: the rollback_{ds} DAG (or python -m ml rollback) re-promotes an earlier champion through the "
        "same quorum of approvers.",
        f"Every promotion, rollback, halt and resume is a line of the champion history (python -m ml champions "
        f"--dataset {ds}).",
    ]
    return Section(7, SECTION_TITLES[6], [Lines(lines)])


def _monitoring(s: Sources) -> Section:
    mon, spec = s.spec.monitoring, s.spec
    rows = [
        ["Score PSI, feature CSI", "after every scoring run; by day, ISO week and month",
         f"amber {mon.psi.amber:g}, red {mon.psi.red:g}", "risk team (alert mail, weekly PDF)",
         f"{mon.retrain_on_red_features} red features request a retraining"],
        ["KS of numeric features", "after every scoring run", f"amber {mon.ks.amber:g}, red {mon.ks.red:g}",
         "risk team", "counted as red features"],
        ["Jensen-Shannon distance", "after every scoring run", f"amber {mon.js.amber:g}, red {mon.js.red:g}",
         "risk team", "counted as red features"],
        ["Approval rate and adverse impact ratio by group", "after every scoring run",
         f"ratio below {spec.fairness.min_ratio:g}", "risk team (fairness alert)", "a review of the model"],
        ["Backtest: AUC, calibration by band (Jeffreys), default rates by group",
         f"weekly, on outcomes matured {spec.label.maturity_lag_days} days", f"alpha {mon.backtest.alpha:g}, "
         f"at most {mon.backtest.max_rejected_bands} band(s) rejected", "risk team (PDF)", "an alert"],
        ["Retraining", "monthly, or requested by drift", "the verdict's rules", "approvers (candidate mail)",
         "a new candidate for approval"],
        ["Model review", f"every {spec.documentation.review_period_days} days", "the inventory's next review date",
         "risk team (weekly overdue mail)", "python -m ml inventory marks it overdue"],
    ]
    table = Rows(["What is checked", "When", "Thresholds", "Who is mailed", "What it triggers"], rows,
                 widths=[0.22, 0.2, 0.18, 0.2, 0.2])
    return Section(8, SECTION_TITLES[7], [table, Lines([f"Windows with fewer than {mon.min_rows} rows are shown as "
                                                        "too few rows, not judged."])])


def _change_log(s: Sources) -> Section:
    rows = []
    for v in s.versions:
        decided = "; ".join(f"{e.get('action', '?')} by {e.get('by', '?')} at {e.get('at', '?')}"
                            for e in v["decisions"]) or "registered"
        rows.append([f"v{v['version']}", v["as_of"], v["verdict"], decided])
    versions = Rows(["Version", "As of", "Verdict", "Decisions before this registration"], rows,
                    title="Versions of this dataset's model", widths=[0.1, 0.13, 0.19, 0.58])
    events = Rows(["When", "Event", "Version", "By", "Why"],
                  [[e["at"], e["action"], e["version"], e["by"], e["why"]] for e in s.champion_events],
                  title="Champion history", widths=[0.24, 0.16, 0.1, 0.18, 0.32])
    return Section(9, SECTION_TITLES[8], [versions, events])


def build(s: Sources) -> TechnicalFileData:
    """The renderer's data: each of the nine sections filled from the sources (pure)."""
    summary = s.summary
    identity = [
        ("Model", f"{summary['model_name']} version {summary['version']}"),
        ("MLflow run", str(summary["run_id"])),
        ("Registered at", str(summary["registered_at"])),
        ("As-of date", str(summary["as_of"])),
        ("Verdict", str(summary["verdict"])),
        ("Model files SHA-256", str(summary["model_sha256"])),
        ("Candidate report SHA-256", str(summary["report_sha256"])),
        ("Data hash (SHA-256)", str(summary["data_hash"])),
    ]
    sections = [_purpose(s), _data(s), _features(s), _design(s), _validation(s), _limitations(s), _oversight(s),
                _monitoring(s), _change_log(s)]
    return TechnicalFileData(dataset=s.spec.name, model_name=str(summary["model_name"]),
                             version=str(summary["version"]), run_id=str(summary["run_id"]),
                             generated_at=str(summary["registered_at"]), identity=identity, sections=sections)


def render(s: Sources) -> bytes:
    """The technical file's PDF bytes."""
    return _render(build(s))


# ---------------------------------------------------------------------------------------- re-render

@dataclass(frozen=True)
class Rerendered:
    """A re-rendered technical file and how it compares with the stored one."""

    pdf: bytes
    sha256: str
    stored_sha256: str
    identical: bool


def rerender(storage: Storage, client: MlflowClient, spec: DatasetSpec, version: str) -> Rerendered:
    """Render a registered version's technical file again from its sources and compare it with the stored one.
    A version without one, or whose stored file does not match the SHA-256 tagged at registration, is refused."""
    name = registry.model_name(spec.name)
    tags = registry.tags(client, name, layout.model_version(version))  # an unknown version is refused here
    summary_key = layout.candidate(spec.name, version, "candidate.json")
    summary = storage.read_json(summary_key) if storage.exists(summary_key) else None
    if summary is None or "technical_file_key" not in summary or SHA_TAG not in tags:
        raise RiskopsError(f"{name} version {version} has no technical file (it was registered before riskops "
                           "rendered them, or its registration did not complete)")
    stored = storage.read_bytes(summary["technical_file_key"]) if storage.exists(summary["technical_file_key"]) \
        else None
    if stored is None:
        raise RiskopsError(f"the technical file of {name} version {version} is missing from "
                           f"{storage.url(summary['technical_file_key'])}")
    stored_sha = hashlib.sha256(stored).hexdigest()
    if stored_sha != tags[SHA_TAG]:
        raise RiskopsError(f"the stored technical file of {name} version {version} "
                           f"({storage.url(summary['technical_file_key'])}) does not match the SHA-256 tagged at "
                           f"registration ({tags[SHA_TAG][:12]}...): it was changed after registration")
    pdf = render(gather(storage, client, spec, summary))
    sha = hashlib.sha256(pdf).hexdigest()
    return Rerendered(pdf=pdf, sha256=sha, stored_sha256=stored_sha, identical=sha == stored_sha)
