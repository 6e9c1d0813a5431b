"""No two modules of rnr import each other, directly or through a loop.

The layers run one way (envs -> manuals -> reward_shaping -> agents); a circle between
two modules means one of them holds a piece that belongs to a module both use.  The
graph is built from the source with ``ast``, so imports inside functions (lazy ones)
and under ``if TYPE_CHECKING`` count as much as module-level ones: hiding a circle in
a function does not break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "manuals", "reward_shaping", "agents")


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every dotted name that ``tree`` imports, at any depth, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # from . import x / from ..y import z, relative to this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            names.add(base)
            # "from envs.fast import batched" imports the module envs.fast.batched
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (itself excluded)."""
    modules = project_modules(root)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = imported(tree, module, path.name == "__init__.py")
        graph[module] = {n for n in names if n in modules and n != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def loop_through(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One import loop inside a component, for the failure message: a -> b -> ... -> a."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        back = [m for m in nxt if m in seen]
        if back:
            return path[path.index(back[0]):] + [back[0]]
        path.append(nxt[0])
        seen.add(nxt[0])


def test_the_project_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50 and "envs.fast.envpool_vec" in graph  # the scan found the project
    loops = [" -> ".join(loop_through(graph, c)) for c in cycles(graph)]
    assert not loops, "modules that import each other:\n" + "\n".join(loops)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_cycle_is_found_even_inside_a_function(tmp_path, monkeypatch, lazy):
    # A tiny project with envs.a -> envs.b -> envs.a, the second import module-level or lazy.
    pkg = tmp_path / "envs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from envs.b import g\n\ndef f():\n    return g()\n")
    back = ("def g():\n    from envs.a import f\n    return f\n" if lazy
            else "from envs import a\n\ndef g():\n    return a\n")
    (pkg / "b.py").write_text(back)
    for other in PACKAGES[1:]:
        (tmp_path / other).mkdir()
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["envs.a", "envs.b"]]
    assert loop_through(graph, ["envs.a", "envs.b"]) == ["envs.a", "envs.b", "envs.a"]


def test_relative_imports_resolve():
    tree = ast.parse("from . import b\nfrom .c import d\nfrom .. import e\n")
    assert imported(tree, "agents.algorithms.x", False) >= {
        "agents.algorithms.b", "agents.algorithms.c", "agents.algorithms.c.d", "agents.e"}
