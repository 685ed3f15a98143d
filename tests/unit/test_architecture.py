"""The import rules of both packages, read from their source.

Every import statement counts: at module level, inside functions (lazy imports) and under
``if TYPE_CHECKING:``; a cycle hidden by a function-level import is still a cycle. The rules:

- the runtime never imports pytest, its plugin machinery or the plugin;
- neither package has an import cycle;
- the runtime's layers import only downward, along the edges of ``RUNTIME_EDGES``;
- the runtime's own tests (``tests/unit/agent_runtime``) never import the plugin either, and no
  test directory can be imported in place of a package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

import agent_runtime
import pytest_kylecode

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PACKAGES = ("agent_runtime", "pytest_kylecode")

Where = Literal["module", "function", "TYPE_CHECKING"]


@dataclass(frozen=True)
class Import:
    """One import statement of ``source``: the module it names and where the statement sits."""

    source: str
    target: str  # absolute dotted name, relative imports resolved
    line: int
    where: Where

    def __str__(self) -> str:
        where = "" if self.where == "module" else f", {self.where}"
        return f"{self.source} -> {self.target} (line {self.line}{where})"


def modules(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, path: Path) -> Iterator[Import]:
    """Every import statement of one module, wherever it sits in the file."""
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, where: Where) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, where)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from pkg import name``: the submodule ``pkg.name`` when there is one, else ``pkg``
            for alias in node.names:
                yield Import(module, f"{target}.{alias.name}", node.lineno, where)
        inner: Where = where
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner = "function"
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                yield from visit(statement, "TYPE_CHECKING")
            for statement in node.orelse:
                yield from visit(statement, inner)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), "module")


def resolve(target: str, known: dict[str, Path]) -> str | None:
    """The module of ``known`` that an import of ``target`` loads: the longest known prefix."""
    while target not in known:
        if "." not in target:
            return None
        target = target.rsplit(".", 1)[0]
    return target


def import_graph(package: str, root: Path = ROOT) -> dict[str, list[Import]]:
    """Module -> its imports of other modules of the same package (resolved to those modules)."""
    known = modules(package, root)
    graph: dict[str, list[Import]] = {}
    for name, path in known.items():
        edges = {}  # one edge per statement and module (``from m import a, b`` is one)
        for imp in imports(name, path):
            target = resolve(imp.target, known)
            if target is not None and target != name:
                edges[target, imp.line] = Import(name, target, imp.line, imp.where)
        graph[name] = list(edges.values())
    return graph


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), members sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                connect(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def describe(graph: dict[str, list[Import]], members: list[str]) -> str:
    inside = set(members)
    edges = [str(e) for m in members for e in graph[m] if e.target in inside]
    return "cycle of " + ", ".join(members) + ":\n  " + "\n  ".join(edges)


# -- the rules -------------------------------------------------------------------------------------

# pytest, its plugin machinery, and the plugin with the test-only libraries it stands on.
FORBIDDEN_IN_RUNTIME = frozenset({"pytest", "_pytest", "pluggy", "xdist", "pytest_kylecode", "syrupy", "vcr"})

# The runtime's layers: a top-level module is its own layer at the bottom or the top, a
# subpackage is one layer. ``agent_runtime`` itself is the facade: it re-exports the public names
# lazily and nothing inside the package may import it.
BOTTOM = ("errors", "clock", "messages", "providers", "config", "yamlsource", "version", "paths")
RANKS: dict[str, int] = {
    **{name: 0 for name in BOTTOM},
    "wire": 1,
    "dialect": 1,
    "loop": 2,
    "observe": 2,
    "resilience": 3,
    "probes": 4,
    "testing": 4,
    "runner": 5,
    "facade": 6,
}
# The edges between layers as the code has them (derived from it after the move into layers).
# An edge not listed here fails the test: add it only if it points downward (a lower rank).
# ``observe`` sits below ``resilience``: ResilientModel records into metrics and the run log,
# which know nothing of how a call was retried.
RUNTIME_EDGES: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "clock": frozenset(),
    "messages": frozenset(),
    "version": frozenset(),
    "paths": frozenset(),
    "providers": frozenset({"errors"}),
    "yamlsource": frozenset({"errors"}),
    "config": frozenset({"errors", "messages", "providers", "yamlsource"}),
    "wire": frozenset({"clock", "config", "errors", "messages", "providers", "version"}),
    "dialect": frozenset({"messages"}),
    "loop": frozenset({"config", "dialect", "errors", "messages"}),
    "observe": frozenset({"errors", "messages", "paths", "providers", "wire"}),
    "resilience": frozenset(
        {"clock", "config", "dialect", "errors", "loop", "messages", "observe", "providers", "wire"}
    ),
    "probes": frozenset({"clock", "config", "messages", "observe", "providers", "resilience", "wire"}),
    "testing": frozenset({"dialect", "errors", "loop", "messages"}),
    "runner": frozenset({"clock", "config", "loop", "observe", "probes", "resilience", "version", "wire"}),
    "facade": frozenset(RANKS) - {"facade"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    return "facade" if len(parts) == 1 else parts[1]


def test_the_runtime_never_imports_pytest_or_the_plugin() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{imp.line} imports {imp.target} ({imp.where})"
        for name, path in modules("agent_runtime").items()
        for imp in imports(name, path)
        if imp.target.split(".")[0] in FORBIDDEN_IN_RUNTIME
    ]
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("package", ["agent_runtime", "pytest_kylecode"])
def test_no_import_cycle(package: str) -> None:
    graph = import_graph(package)
    found = cycles(graph)
    assert not found, "\n".join(describe(graph, members) for members in found)


def test_runtime_layers_import_only_downward() -> None:
    unknown = sorted({layer(m) for m in modules("agent_runtime")} - set(RANKS))
    assert not unknown, f"modules in no layer of RANKS: {unknown}"
    wrong = []
    for module, edges in import_graph("agent_runtime").items():
        for edge in edges:
            source, target = layer(module), layer(edge.target)
            if source != target and target not in RUNTIME_EDGES[source]:
                wrong.append(f"{edge}: {source} may import only {sorted(RUNTIME_EDGES[source])}")
    assert not wrong, "\n".join(wrong)


def test_the_allowed_edges_point_downward() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in RUNTIME_EDGES.items()
        for target in targets
        if RANKS[target] >= RANKS[source] and not (RANKS[source] == 0 and RANKS[target] == 0)
    ]
    assert not upward, upward
    assert set(RUNTIME_EDGES) == set(RANKS)


def test_the_facade_declares_for_the_type_checker_exactly_what_it_loads_lazily() -> None:
    """``agent_runtime.__init__`` names every lazy export under ``TYPE_CHECKING`` (so that
    ``from agent_runtime import Agent`` is typed), and nothing else."""
    path = ROOT / "agent_runtime" / "__init__.py"
    declared = {
        imp.target.rsplit(".", 1)[1]: imp.target.rsplit(".", 1)[0].removeprefix("agent_runtime.")
        for imp in imports("agent_runtime", path)
        if imp.where == "TYPE_CHECKING"
    }
    assert declared == agent_runtime._EXPORTS


# -- the tests -------------------------------------------------------------------------------------


def test_the_runtime_tests_never_import_the_plugin() -> None:
    """What the runtime does is tested without the plugin: its tests import neither the plugin nor
    the plugin's tests (``unit.pytest_kylecode``, whose helpers stand on the plugin)."""
    offences = [
        f"{path.relative_to(ROOT)}:{imp.line} imports {imp.target} ({imp.where})"
        for name, path in modules("unit/agent_runtime", TESTS).items()
        for imp in imports(name, path)
        if imp.target.split(".")[0] == "pytest_kylecode" or imp.target.startswith("unit.pytest_kylecode")
    ]
    assert not offences, "\n".join(offences)


def test_no_test_directory_stands_in_for_a_package() -> None:
    """``tests/unit`` and every directory below it are packages (``unit.agent_runtime``), so none of
    them is ever put on ``sys.path``; a directory named like a package anywhere else in ``tests``
    would be importable as the package when pytest puts its parent on ``sys.path``."""
    unit = TESTS / "unit"
    not_packages = [
        d.relative_to(ROOT).as_posix()
        for d in [unit, *unit.rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and not (d / "__init__.py").is_file()
    ]
    assert not not_packages, f"directories of tests/unit without __init__.py: {not_packages}"
    exposed = [
        d.relative_to(ROOT).as_posix()
        for d in TESTS.rglob("*")
        if d.is_dir() and d.name in PACKAGES and not (d.parent / "__init__.py").is_file()
    ]
    assert not exposed, f"test directories that shadow a package: {exposed}"
    for package in (agent_runtime, pytest_kylecode):
        assert Path(package.__file__).resolve() == ROOT / package.__name__ / "__init__.py"  # type: ignore[arg-type]


# -- the checker itself ----------------------------------------------------------------------------


def test_a_cycle_through_lazy_and_type_checking_imports_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n"
    )
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")  # into the cycle, not part of it
    graph = import_graph("pkg", tmp_path)
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    message = describe(graph, cycles(graph)[0])
    assert "pkg.a -> pkg.sub.b (line 2, function)" in message
    assert "pkg.sub.b -> pkg.c (line 3, TYPE_CHECKING)" in message
