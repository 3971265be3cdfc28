"""No knots in `ml`: the import graph between its capability packages and its shared top-level modules has no
cycle, and neither has the graph between the modules inside each package. Imports are read with `ast`, at module level and inside functions alike
(a lazy import is still a dependency); only `if TYPE_CHECKING:` blocks are left out, as they never run."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ML = Path(__file__).resolve().parents[2] / "ml"
PACKAGES = ("spec", "data", "model", "governance", "retraining", "scoring", "serving", "monitor")
Edges = dict[str, dict[str, list[str]]]  # node -> imported node -> where ("ml/x.py:12 imports ml.y")


def _modules() -> dict[str, Path]:
    found = {}
    for path in ML.rglob("*.py"):
        parts = list(path.relative_to(ML.parent).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _node(module: str) -> str:
    """A capability package stands for all its modules; a shared module stands for itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1] in PACKAGES else module


def _package(module: str) -> str | None:
    """The capability package a module is in (its `__init__` included), or None for a shared module."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1] in PACKAGES else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported module or name, line) of every import that can run, at any depth."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(inside: str | None = None) -> Edges:
    """Edges between nodes of `ml` (packages and shared modules), each with the import lines that make it; with
    `inside` (a package, e.g. "ml.governance"), edges between the modules of that package instead. A package's
    `__init__` is left out inside it: it may gather what its modules define (`from ml.spec import X`)."""
    modules = _modules()
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for module, path in modules.items():
        if inside is not None and (_package(module) != inside or module == inside):
            continue
        for name, line in _imports(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            if name.split(".")[0] != "ml":
                continue
            while name not in modules:  # `from ml.x import name` names a module or something in ml.x
                name = name.rsplit(".", 1)[0]
            if inside is None:
                source, target = _node(module), _node(name)
            elif _package(name) == inside and name != inside:
                source, target = module, name
            else:
                continue
            if source != target:
                edges[source][target].append(f"{path.relative_to(ML.parent)}:{line} imports {name}")
    return edges


def cycles(edges: Edges) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), each a set of nodes on a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted({*edges, *(t for targets in edges.values() for t in targets)}):
        if node not in index:
            connect(node)
    return groups


def test_the_packages_of_ml_import_each_other_without_a_cycle():
    edges = import_graph()
    # the graph is really read: scoring uses the registry, monitoring the saved model and scoring's policy
    assert {"ml.model", "ml.data"} <= set(edges["ml.scoring"])
    assert {"ml.model", "ml.scoring"} <= set(edges["ml.monitor"])
    knots = cycles(edges)
    detail = "\n".join(f"  {source} -> {target}: {'; '.join(edges[source][target])}"
                       for group in knots for source in group for target in edges[source] if target in group)
    assert not knots, f"import cycles in ml: {knots}\n{detail}"


def test_the_modules_inside_each_package_import_each_other_without_a_cycle():
    knots = {package: cycles(import_graph(f"ml.{package}")) for package in PACKAGES}
    # the graph inside a package is really read: governance is ordered registry <- champions <- approvals <- halt
    governance = import_graph("ml.governance")
    assert {"ml.governance.champions", "ml.governance.registry"} <= set(governance["ml.governance.approvals"])
    assert "ml.governance.approvals" in governance["ml.governance.halt"]
    found = {package: groups for package, groups in knots.items() if groups}
    assert not found, f"import cycles inside packages of ml: {found}"


def test_a_cycle_is_found_and_named():
    edges: Edges = {"ml.model": {"ml.scoring": ["a"]}, "ml.scoring": {"ml.model": ["b"], "ml.data": ["c"]}}
    assert cycles(edges) == [["ml.model", "ml.scoring"]]
    assert cycles({"ml.scoring": {"ml.model": ["b"]}}) == []


def test_imports_inside_functions_count_and_type_checking_ones_do_not():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ml.monitor import check\n"
                     "def f():\n    from ml.scoring import policy\n")
    assert _imports(tree, "ml.model.train", False) == [("typing.TYPE_CHECKING", 1), ("ml.scoring.policy", 5)]
