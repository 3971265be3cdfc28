"""A scorecard written as an XGBoost booster, so a scorecard candidate is saved, registered, loaded, scored, banded,
explained and monitored by the same code as any model (`ml.model.riskmodel.RiskModel`).

A scorecard is additive in its features and constant on each bin, which is exactly a booster of one tree per
feature: the root sends a missing value left to the missing bin's leaf (its condition, x < the lowest float, holds
for no number), then a chain of splits x < edge walks the bins in order. Leaf values are the coefficient times the
bin's WoE, the intercept added to the first tree's; the booster's base score is 0.5 (a margin of 0), so the margin
is the scorecard's log-odds. Each node's hessian sum is its train rows, so the Saabas contributions reasons are
ranked on are each bin's points against the feature's average; each split's gain is the feature's information
value shared over its splits, so the booster's total gain per feature is its information value.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ml.boosting import xgb
from ml.errors import RiskopsError
from ml.model.scorecard import FeatureBins, Scorecard

_ROOT = 2147483647  # XGBoost's parent of the root
_LOWEST = float(np.finfo(np.float32).min)


class _Tree:
    """Nodes of one tree as XGBoost's JSON arrays."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []

    def add(self, parent: int, hessian: float) -> int:
        self.nodes.append({"parent": parent, "left": -1, "right": -1, "feature": 0, "condition": 0.0,
                           "default_left": 0, "weight": 0.0, "gain": 0.0, "hessian": max(hessian, 1e-6)})
        return len(self.nodes) - 1

    def split(self, node: int, feature: int, condition: float, gain: float, default_left: bool,
              hessians: tuple[float, float]) -> tuple[int, int]:
        left, right = self.add(node, hessians[0]), self.add(node, hessians[1])
        self.nodes[node].update(left=left, right=right, feature=feature, condition=condition, gain=gain,
                                default_left=int(default_left))
        return left, right

    def leaf(self, node: int, value: float) -> None:
        self.nodes[node].update(condition=value, weight=value)

    def to_json(self, tree_id: int, n_features: int) -> dict[str, Any]:
        n = self.nodes
        for i in reversed(range(len(n))):  # an inner node's weight: the hessian-weighted mean of its leaves
            if n[i]["left"] >= 0:
                a, b = n[n[i]["left"]], n[n[i]["right"]]
                n[i]["weight"] = (a["weight"] * a["hessian"] + b["weight"] * b["hessian"]) / n[i]["hessian"]
        return {
            "base_weights": [x["weight"] for x in n], "categories": [], "categories_nodes": [],
            "categories_segments": [], "categories_sizes": [], "default_left": [x["default_left"] for x in n],
            "id": tree_id, "left_children": [x["left"] for x in n], "loss_changes": [x["gain"] for x in n],
            "parents": [x["parent"] for x in n], "right_children": [x["right"] for x in n],
            "split_conditions": [x["condition"] for x in n], "split_indices": [x["feature"] for x in n],
            "split_type": [0] * len(n), "sum_hessian": [x["hessian"] for x in n],
            "tree_param": {"num_deleted": "0", "num_feature": str(n_features), "num_nodes": str(len(n)),
                           "size_leaf_vector": "1"},
        }


def _tree(bins: FeatureBins, feature: int, coefficient: float, shift: float, n_features: int, tree_id: int
          ) -> dict[str, Any]:
    values = [coefficient * w + shift for w in bins.woe]
    rows = [float(r) for r in bins.rows] or [1.0] * len(values)
    gain = bins.information_value / (len(bins.edges) + 1)
    tree = _Tree()
    root = tree.add(_ROOT, sum(rows))
    missing, node = tree.split(root, feature, _LOWEST, gain, True, (rows[-1], sum(rows[:-1])))
    tree.leaf(missing, values[-1])
    for i, edge in enumerate(bins.edges):
        left, node = tree.split(node, feature, edge, gain, False, (rows[i], sum(rows[i + 1:-1])))
        tree.leaf(left, values[i])
    tree.leaf(node, values[len(bins.edges)])
    return tree.to_json(tree_id, n_features)


def to_booster(card: Scorecard, order: tuple[str, ...]) -> xgb.Booster:
    """The scorecard as a booster over the model input columns `order` (number features only)."""
    categorical = [b.feature for b in card.bins if b.categories]
    if categorical:
        raise RiskopsError(f"a scorecard candidate takes number features only, and the model takes the category "
                           f"features {', '.join(categorical)}: train the XGBoost candidate (--model xgboost); the "
                           "scorecard still shows beside it in the candidate report")
    if [b.feature for b in card.bins] != list(order):
        raise ValueError("the scorecard's features are not the model input's, in its order")
    n = len(order)
    trees = [_tree(b, i, c, card.intercept if i == 0 else 0.0, n, i)
             for i, (b, c) in enumerate(zip(card.bins, card.coefficients, strict=True))]
    model = {
        "learner": {
            "attributes": {}, "feature_names": list(order), "feature_types": ["float"] * n,
            "gradient_booster": {
                "model": {"cats": {"enc": [], "feature_segments": [], "sorted_idx": []},
                          "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": str(len(trees))},
                          "iteration_indptr": list(range(len(trees) + 1)), "tree_info": [0] * len(trees),
                          "trees": trees},
                "name": "gbtree"},
            "learner_model_param": {"base_score": "[5E-1]", "boost_from_average": "0", "num_class": "0",
                                    "num_feature": str(n), "num_target": "1"},
            "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}},
        },
        "version": [int(v) for v in xgb.__version__.split(".")[:3]],
    }
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(model).encode()))
    return booster
