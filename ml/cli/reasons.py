"""The reason statements and fairness attributes of a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ml.cli.common import (
    read_settings,
    step,
)

if TYPE_CHECKING:
    pass



def _reasons_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the dictionary as JSON")


@step("reasons", "print the dataset's reason statements (code, text, the features and hard rules each stands for) "
      "and its fairness attributes", _reasons_args)
def cmd_reasons(args: argparse.Namespace) -> int:
    from ml.reasons import Dictionary
    from ml.spec import get_spec

    spec = get_spec(read_settings().specs_dir, args.dataset)
    dictionary = Dictionary.of(spec, [*spec.model_inputs, *(f.name for f in spec.derived)])
    warning = dictionary.warning(spec.name)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    unexplained = [f for f, s in zip([*spec.model_inputs, *(f.name for f in spec.derived)],
                                     dictionary.feature_statement, strict=True) if s < 0] if dictionary.from_spec else []
    if args.json:
        print(json.dumps({"dataset": spec.name, "statements": [s.model_dump() for s in spec.reasons.statements],
                          "never_a_reason": sorted(spec.protected_columns) + unexplained,
                          "attributes": [a.model_dump() for a in spec.fairness.attributes]}, indent=2))
        return 0
    for s in spec.reasons.statements:
        stands_for = [*s.features, *(f"hard rule {r}" for r in s.rules)]
        print(f"{s.code}\t{s.text}\t({', '.join(stands_for)})")
    never = sorted(spec.protected_columns) + unexplained
    if never:
        print(f"never a reason: {', '.join(never)}")
    for a in spec.fairness.attributes:
        groups = spec.groups(a) or ["the values that occur"]
        print(f"fairness attribute {a.column} ({a.kind}): groups {', '.join(groups)}; reference {a.reference}")
    return 0
