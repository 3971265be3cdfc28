"""Sections 1 to 4 of the technical file: purpose, data, features and design (pure)."""

from __future__ import annotations

from typing import Any

from ml.governance.technical_file.sources import Sources
from ml.governance.technical_file.wording import f4, pct, samples_in_order
from ml.spec import DatasetSpec
from reports.technical_file import SECTION_TITLES, Facts, Lines, Rows, Section


def purpose(s: Sources) -> Section:
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


def data(s: Sources) -> Section:
    spec, summary, a = s.spec, s.summary, s.summary.data_accounting
    rows_in = sum(m.rows_in for m in s.manifests)
    clean = sum(m.rows_clean for m in s.manifests)
    quarantined = sum(m.rows_quarantined for m in s.manifests)
    by_column: dict[str, int] = {}
    examples: dict[str, str] = {}
    for m in s.manifests:
        for column, rows in m.stats.reasons_by_column.items():
            by_column[column] = by_column.get(column, 0) + rows
        for r in m.stats.top_reasons:
            examples.setdefault(r.column, r.example)
    top = sorted(by_column, key=lambda c: (-by_column[c], c))[:5]
    source = spec.source
    where = "not stated (batches are delivered to landing/)" if source is None else (
        f"{source.kind}" + (f": {source.package}/{source.path}" if source.package else
                            f": {source.path}" if source.path else ""))
    facts = Facts([
        ("Source", where),
        ("Landing zone", f"landing/{spec.name}/date=D/ (raw daily batches, never modified)"),
        ("Data window", f"{summary.window[0]} to {summary.window[1]} (as of {summary.as_of}; "
                        f"{a.business_days} business days, {a.days_used} used)"),
        ("Rows landed", f"{rows_in:,} = {clean:,} clean + {quarantined:,} quarantined "
                        f"({pct(quarantined / rows_in if rows_in else 0.0)})"),
        ("Outcomes", f"{a.positive_outcomes:,} positive, {a.negative_outcomes:,} negative, "
                     f"{a.unknown_outcomes:,} unknown (left out, never read as good)"),
        ("Days left out", "; ".join(f"{len(days)} {what}" for days, what in (
            (a.missing_days, "not preprocessed"), (a.failed_quality_days, "failed their quality gate"),
            (a.fully_quarantined_days, "fully quarantined")))),
        ("Samples", "; ".join(f"{k} {v.rows:,} rows, {v.positives:,} positive"
                              for k, v in samples_in_order(summary))),
        ("Data hash", summary.data_hash),
    ], title="Sources, window and row accounting", mono=("Data hash",))
    reasons = Rows(["Column", "Rows quarantined", "Example reason"],
                   [[c, f"{by_column[c]:,}", examples.get(c, "")] for c in top],
                   title="Top quarantine reasons in the window", widths=[0.25, 0.15, 0.6])
    days = Rows(["Business day", "Rows in", "Clean", "Quarantined", "Input SHA-256"],
                [[m.date, f"{m.rows_in:,}", f"{m.rows_clean:,}", f"{m.rows_quarantined:,}", m.input_sha256]
                 for m in s.manifests]
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


def features(s: Sources) -> Section:
    spec = s.spec
    names = list(s.summary.features) or [*spec.model_inputs, *(f.name for f in spec.derived)]
    clean = {n: 0.0 for n in names}
    total = 0
    for m in s.manifests:
        rows = m.rows_clean
        total += rows
        for n in names:
            clean[n] += m.stats.null_rate.get(n, 0.0) * rows
    statement = {f: f"{st.code}: {st.text}" for st in spec.reasons.statements for f in st.features}
    importance = {f: i + 1 for i, (f, _) in enumerate(s.summary.feature_importance)}
    directions = dict(spec.monotone)
    checked = {c.feature: c.holds for c in s.summary.monotone}

    def monotone(n: str) -> str:
        if n not in directions:
            return "none"
        held = checked.get(n)
        return directions[n] + ("" if held is None else " (holds)" if held else " (does NOT hold)")
    inputs: list[list[str]] = []
    for n in names:
        kind, allowed = _allowed(spec, n)
        inputs.append([n, kind, allowed, pct(clean[n] / total) if total else "n/a", monotone(n),
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


def design(s: Sources) -> Section:
    p, summary, policy = s.params, s.summary, s.spec.policy
    card = summary.algorithm == "scorecard"
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
        ("Threshold", f"{f4(summary.threshold)} by {p.get('train.threshold_method', '?')}: "
                      f"{summary.threshold_rationale}"),
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
