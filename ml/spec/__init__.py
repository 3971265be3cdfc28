"""Dataset specs: one YAML file per dataset describes its raw format, columns, roles, label, policy, monitoring,
fairness attributes, reason statements and oversight. Adding a dataset needs only a new file in the specs folder
(RISKOPS_SPECS).

The parts, each a module: `base` (limits of an untrusted file, the strict model), `columns`, `intake` (source,
calendar, batch completion, quality gates, training minimums), `policy` (decisions and reason statements),
`monitoring` (thresholds, backtest, fairness attributes), `oversight` (quorum, fallback, override rate,
documentation), `dataset` (the whole spec), `checks` (what spans sections) and `loader` (reading files).
"""

from ml.spec.base import MAX_SPEC_BYTES, normalize_text, shown
from ml.spec.columns import (
    BUSINESS_DATE,
    Bound,
    ColumnSpec,
    DerivedFeature,
    KeySpec,
    LabelSpec,
    NumberFormat,
    RawFormat,
)
from ml.spec.dataset import DatasetSpec
from ml.spec.intake import Batch, Calendar, DateRebuild, Quality, SourceSpec, SyntheticCards, Training
from ml.spec.loader import dataset_name, get_spec, load_spec, load_specs, read_spec_text, spec_paths
from ml.spec.monitoring import MISSING_GROUP, Backtest, Fairness, FairnessAttribute, GroupBand, Monitoring, Thresholds
from ml.spec.oversight import Documentation, Fallback, OverrideRate, Oversight
from ml.spec.policy import Bands, HardRule, PdBand, Policy, Reasons, ReasonStatement, ScoreBand
from ml.spec.serving import Serving

__all__ = [
    "BUSINESS_DATE", "MAX_SPEC_BYTES", "MISSING_GROUP", "Backtest", "Bands", "Batch", "Bound", "Calendar",
    "ColumnSpec", "DatasetSpec", "DateRebuild", "DerivedFeature", "Documentation", "Fairness", "FairnessAttribute",
    "Fallback", "GroupBand", "HardRule", "KeySpec", "LabelSpec", "Monitoring", "NumberFormat", "Oversight",
    "OverrideRate", "PdBand", "Policy", "Quality", "RawFormat", "ReasonStatement", "Reasons", "ScoreBand",
    "Serving", "SourceSpec", "SyntheticCards", "Thresholds", "Training", "dataset_name", "get_spec", "load_spec", "load_specs",
    "normalize_text", "read_spec_text", "shown", "spec_paths",
]
