"""The package's import structure: no cycle, a short tower, and models (`siting.locate`) free of geodata.

The graph is read from the source (the AST of each module's top-level imports, ``if TYPE_CHECKING:``
blocks left out), so it shows what importing a module really pulls in.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "siting"
MAX_TOWER = 9  # levels from the top (cli) down to a leaf such as errors.py: cli → scenarios → pipeline → coverage → …
# the only modules outside the subpackage that `siting.locate` may use: stdlib-only leaves
LOCATE_MAY_USE = {"siting.errors", "siting._validate"}
GEODATA = {"geopandas", "shapely", "pyproj", "osmnx", "folium", "networkx", "pyogrio", "fiona"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _top_level_imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported: module level, including try/if blocks."""
    out: list[ast.Import | ast.ImportFrom] = []
    todo = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        elif isinstance(node, ast.If | ast.Try) and not _is_type_checking(node):
            todo.extend(ast.iter_child_nodes(node))
    return out


@cache
def imports_of(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(siting modules, external top-level packages) that module ``name`` imports at import time."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner: set[str] = set()
    outer: set[str] = set()
    for node in _top_level_imports(path):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            mod = node.module or ""
            full = f"{base}.{mod}".strip(".") if node.level else mod
            targets = [full] + [f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in MODULES]
        for t in targets:
            if t.split(".")[0] == "siting":
                if t in MODULES and t != name:
                    inner.add(t)
            else:
                outer.add(t.split(".")[0])
    return frozenset(inner), frozenset(outer)


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(imports_of(m)[0]):
            if n == "siting" or (m.startswith(n + ".") and MODULES[n].name == "__init__.py"):
                continue  # a submodule importing its own package's __init__ is resolved by Python
            if state.get(n) == 1:
                return [*stack[stack.index(n):], n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in MODULES:
        if m not in state and (found := visit(m)):
            return found
    return None


@cache
def height(name: str) -> int:
    """Levels of the import tower under ``name`` (a module importing nothing from siting: 1)."""
    below = [n for n in imports_of(name)[0] if n != "siting" and not name.startswith(n + ".")]
    return 1 + max((height(n) for n in below), default=0)


def test_no_import_cycle():
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_tower_height():
    tallest = max((m for m in MODULES if m != "siting"), key=height)
    assert height(tallest) <= MAX_TOWER, f"{tallest} stands {height(tallest)} levels tall"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m.startswith("siting.locate")))
def test_locate_knows_no_geodata(name):
    inner, outer = imports_of(name)
    assert {n for n in inner if not n.startswith("siting.locate")} <= LOCATE_MAY_USE, name
    assert not outer & GEODATA, f"{name} imports {sorted(outer & GEODATA)}"


@pytest.mark.parametrize("name", sorted(LOCATE_MAY_USE))
def test_locate_dependencies_are_leaves(name):
    assert imports_of(name)[0] <= {"siting.errors"}, name
    assert not imports_of(name)[1] & GEODATA


def test_no_import_inside_functions():
    """Imports run at module level; only optional heavy dependencies may wait inside a function."""
    lazy_ok = {"osmnx", "osmium", "pyrosm", "matplotlib", "selenium", "pulp", "IPython", "distributed"}
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        mod = sub.module if isinstance(sub, ast.ImportFrom) else sub.names[0].name
                        if getattr(sub, "level", 0) or (mod or "").split(".")[0] not in lazy_ok:
                            found.append(f"{name}:{sub.lineno} {ast.unparse(sub)}")
    assert not found, "\n".join(sorted(set(found)))



#: The guideline's "no module over ~400 lines", as a line count.
MAX_LINES = 400


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_the_size_guideline(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].name} has {lines} lines: split a coherent part into its own module"
