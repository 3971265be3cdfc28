"""Saabas contributions (XGBoost's `pred_contribs` with `approx_contribs=True`) in one XGBoost prediction.

Saabas' method credits, on a row's path through a tree, the change of the tree's expected value at each split
to the split's feature; the expected value of a node is the hessian-weighted mean of its leaves. A tree's
contributions therefore depend only on the leaf the row reaches: each leaf has a fixed vector, one number per
feature. A booster with the same splits whose leaves carry those vectors (XGBoost's multi-target trees, one
target per feature) predicts every row's contributions as its margin, in one `inplace_predict`: rows walk the
trees in blocks, as in a plain prediction, instead of one by one as `pred_contribs` walks them (about half
the cost here).

The numbers are XGBoost's own, bit for bit: the node means and the path differences are computed in float32
in the order XGBoost computes them (`FillNodeMeanValues`, `CalculateContributionsApprox`), and the prediction
adds each tree's vector to a zero margin in tree order, as `pred_contribs` adds each tree's contributions
(tests/ml/test_score.py compares both on the same rows). Models this does not cover (a multi-output model,
DART's weighted trees, trees with pruned nodes) get None from `saabas_booster`: scoring then asks XGBoost.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ml.boosting import xgb

_F32 = np.float32


def saabas_booster(booster: xgb.Booster) -> xgb.Booster | None:
    """A booster whose `inplace_predict(..., output_margin=True)` gives the Saabas contribution of every feature
    (the columns of `pred_contribs(approx_contribs=True)` without the bias), or None if the model is of a kind
    this does not cover. Uses as many threads as `booster`."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    gbtree = learner["gradient_booster"]
    params = learner["learner_model_param"]
    n_features = int(params["num_feature"])
    if (gbtree.get("name") != "gbtree" or params.get("num_target", "1") != "1" or params.get("num_class") != "0"
            or n_features < 2):
        return None
    forest = gbtree["model"]
    if forest["gbtree_model_param"].get("num_parallel_tree", "1") != "1" or any(forest["tree_info"]):
        return None
    trees = []
    for tree in forest["trees"]:
        if tree["tree_param"].get("num_deleted", "0") != "0" or tree["tree_param"].get("size_leaf_vector",
                                                                                        "1") not in ("0", "1"):
            return None
        trees.append(_vector_tree(tree, n_features))
    forest = {**forest, "trees": trees}
    learner = {**learner, "gradient_booster": {**gbtree, "model": forest},
               # a zero margin to add the trees' vectors to, and no link function on the sums
               "objective": {"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}},
               "learner_model_param": {**params, "base_score": "[" + ",".join(["0"] * n_features) + "]",
                                       "num_target": str(n_features)}}
    derived = xgb.Booster()
    derived.load_model(bytearray(json.dumps({**model, "learner": learner}).encode()))
    nthread = json.loads(booster.save_config())["learner"]["generic_param"].get("nthread")
    if nthread is not None:
        derived.set_param({"nthread": nthread})
    return derived


def _vector_tree(tree: dict[str, Any], n_features: int) -> dict[str, Any]:
    """One tree of the saved model as a multi-target tree with the same splits, each leaf carrying its
    Saabas vector."""
    left, right, feature = tree["left_children"], tree["right_children"], tree["split_indices"]
    value = np.asarray(tree["split_conditions"], dtype=_F32)  # a leaf's value is kept in its split condition
    hess = np.asarray(tree["sum_hessian"], dtype=_F32)
    n = len(left)
    mean = np.zeros(n, dtype=_F32)
    # node means bottom-up, children before parents (XGBoost's FillNodeMeanValues, in float32)
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] != -1:
            stack += [left[node], right[node]]
    for node in reversed(order):
        if left[node] == -1:
            mean[node] = value[node]
        else:
            lo, hi = left[node], right[node]
            total = _F32(mean[lo] * hess[lo])
            total = _F32(total + _F32(mean[hi] * hess[hi]))
            mean[node] = _F32(total / hess[node])
    leaves = [node for node in range(n) if left[node] == -1]
    vectors = {}
    # root to leaves: each split credits its feature with the change of the mean (CalculateContributionsApprox)
    paths: list[tuple[int, np.ndarray, int]] = [(0, np.zeros(n_features, dtype=_F32), -1)]
    while paths:
        node, vector, last = paths.pop()
        if left[node] == -1:
            if last >= 0:  # the leaf's own term: its value less its mean, which is zero
                vector[last] = _F32(vector[last] + _F32(value[node] - mean[node]))
            vectors[node] = vector
            continue
        for child in (left[node], right[node]):
            step = vector.copy()
            step[feature[node]] = _F32(step[feature[node]] + _F32(mean[child] - mean[node]))
            paths.append((child, step, feature[node]))
    leaf_index = {node: i for i, node in enumerate(leaves)}
    return {**tree,
            "right_children": [leaf_index[i] if left[i] == -1 else right[i] for i in range(n)],
            "parents": [-1, *tree["parents"][1:]],
            "base_weights": [0.0] * (n * n_features),
            "leaf_weights": [float(x) for node in leaves for x in vectors[node]],
            "tree_param": {**tree["tree_param"], "size_leaf_vector": str(n_features)}}
