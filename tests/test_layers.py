"""The package's layers run one way: no import cycles between vidcolor's modules, and the
render's worker processes stay free of torch.

The import graph is read from the source with :mod:`ast`: every ``import`` at module level and
inside functions (a function-level import is still a run-time dependency, only a later one),
except those under ``if TYPE_CHECKING:``, which never run. A package's ``__init__`` is its
own module; ``from vidcolor.inference import stages`` depends on the submodule ``stages``,
``from vidcolor.inference import Thing`` on the package's ``__init__``. The implicit import
of a parent package when a submodule is imported is not an edge: every submodule would
otherwise depend on its package's ``__init__``, which is how registration by import works.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import vidcolor

PACKAGE = "vidcolor"
ROOT = Path(vidcolor.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import node that can run: the bodies of ``if TYPE_CHECKING:`` are skipped (their
    ``else:`` is not)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, dict[str, int]]:
    """Each vidcolor module -> the vidcolor modules it imports at run time (-> a line number)."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _resolve(module, path, node)
                if source is None:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            for target in targets:
                if target in modules and target != module:
                    graph[module].setdefault(target, node.lineno)
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth first)."""
    start, members = component[0], set(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt in members and nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {component}")


def import_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """One line per cycle found: each group of mutually importing modules, and a shortest
    cycle through it with the line of each import."""
    lines = []
    for component in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, component)
        steps = " -> ".join(f"{a} (line {graph[a][b]})"
                            for a, b in zip(cycle[:-1], cycle[1:], strict=True))
        lines.append(f"{len(component)} modules {component}: {steps} -> {cycle[-1]}")
    return lines


def test_graph_reads_every_kind_of_import():
    graph = import_graph()
    # module level, function level, and "from package import submodule"
    assert "vidcolor.errors" in graph["vidcolor.inference.render"]
    assert "vidcolor.devices" in graph["vidcolor.inference.render"]  # inside a method
    assert "vidcolor.progress" in graph["vidcolor.inference.render"]  # from vidcolor import
    # TYPE_CHECKING imports are not edges: options names Colorizer only for annotations
    assert "vidcolor.inference.colorizer" not in graph["vidcolor.inference.options"]


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert import_cycles(graph) == [
        "3 modules ['a', 'b', 'c']: a (line 1) -> b (line 2) -> c (line 3) -> a"]
    assert import_cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycles():
    cycles = import_cycles(import_graph())
    if cycles:
        pytest.fail("import cycles:\n" + "\n".join(cycles), pytrace=False)


def _torch_loaded() -> bool:
    """Run in a render worker: has anything it unpickled or ran imported torch?"""
    return "torch" in sys.modules


def test_render_worker_does_not_import_torch():
    """A render worker (spawned by ``make_pool``) unpickles and runs the frame stages' job as
    the pipeline sends it (``_run_group`` with the stages and a frame) without importing torch:
    this module itself imports nothing heavy, so only the job could."""
    import numpy as np

    from vidcolor.inference.pipeline import _run_group, make_pool
    from vidcolor.inference.stages import FrameWork, Paint, ToRGB

    light = np.linspace(0, 100, 12 * 16, dtype=np.float32).reshape(12, 16)
    work = FrameWork(index=0, key=0, pts=None, lightness=light,
                     ab_small=[np.full((3, 4, 2), 20, np.float32)])
    pool = make_pool(1)
    assert pool is not None
    try:
        done = pool.submit(_run_group, [Paint(), ToRGB()], work).result(timeout=120)
        torch_loaded = pool.submit(_torch_loaded).result(timeout=60)  # the same worker
    finally:
        pool.shutdown()
    assert done.rgb is not None and done.rgb.shape == (12, 16, 3)  # the stages ran
    assert not torch_loaded
