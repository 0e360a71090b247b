"""The package's import structure: stages in layers, no cycle, a short tower, models free of geodata.

Two graphs are read from the source. The *layer* graph holds every import of a module: module level,
inside functions, under ``if TYPE_CHECKING:`` and the ``lazy_module("siting....")`` names; a stage may use
only the stages below it (:data:`LAYERS`). The *import-time* graph holds what importing a module really
runs (``TYPE_CHECKING`` blocks and function bodies left out): no cycle, a short tower.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "siting"
MAX_TOWER = 11  # levels from the top down to a leaf such as errors.py: app → workbench → scenarios → outputs → …
# the only modules outside the subpackage that `siting.locate` may use: stdlib-only leaves
LOCATE_MAY_USE = {"siting.errors", "siting._validate", "siting._log"}  # _log: its progress bars
GEODATA = {"geopandas", "shapely", "pyproj", "osmnx", "folium", "networkx", "pyogrio", "fiona"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}

#: The stages, lowest first: a module may import its own stage and those before it, never one after.
#: ``base`` is the leaves at the top of the package (errors, settings, the shared vocabulary of labels ...);
#: ``siting`` itself, the lazy facade of public names, stands outside the layers.
LAYERS = ("base", "io", "engine", "locate", "plan", "pipeline", "outputs", "scenarios", "workbench", "app", "cli")
#: Upward uses allowed on purpose, each with its reason (checked to exist, so a stale entry fails too).
UPWARD_OK = {
    ("siting.__main__", "siting.cli"):
        "`python -m siting` runs the command line: the entry point of the package, which nothing imports",
    ("siting.engine.coverage", "siting.outputs.maps"):
        "CoverageResult.explore() draws the result on a folium map at call time (geopandas' GeoDataFrame.explore "
        "habit); siting.outputs.maps is loaded only then (lazy_module), never when the engine is imported",
    ("siting.workbench.core", "siting.app"):
        "Workbench.show() serves the app's page from the kernel (the issue's wb.show()); siting.app is loaded only "
        "then (lazy_module): the workbench runs, and is tested, with no web stack",
}


def stage(name: str) -> str:
    """The layer of module ``name``: its subpackage, ``pipeline``, or ``base`` for the other top-level modules."""
    parts = name.split(".")
    if len(parts) > 2 and MODULES.get(".".join(parts[:2]), Path()).name == "__init__.py":
        return parts[1]
    if parts[1:] and parts[1] in LAYERS:
        return parts[1]
    return "base"


def every_import(name: str, source: str) -> set[str]:
    """siting modules that ``source`` (the text of module ``name``) uses anywhere: all imports and lazy names."""
    path_is_package = name in MODULES and MODULES[name].name == "__init__.py"
    package = name if path_is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            full = f"{base}.{node.module or ''}".strip(".") if node.level else (node.module or "")
            subs = [f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in MODULES]
            targets = subs if subs and len(subs) == len(node.names) else [full, *subs]
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("lazy_module") and node.args
              and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("siting.")):
            targets = [str(node.args[0].value)]
        found |= {t for t in targets if t in MODULES and t not in (name, "siting")}
    return found


def upward(name: str, source: str) -> list[str]:
    """The imports of module ``name`` (text ``source``) that reach a later stage, allowed ones left out."""
    here = LAYERS.index(stage(name))
    return sorted(t for t in every_import(name, source)
                  if LAYERS.index(stage(t)) > here and (name, t) not in UPWARD_OK)


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
    """Levels of the import tower under ``name`` (a module importing nothing from siting: 1).

    A stage's ``__init__`` that only re-exports its modules' names is no level of its own.
    """
    below = [n for n in imports_of(name)[0] if n != "siting" and not name.startswith(n + ".")]
    own = 0 if MODULES[name].name == "__init__.py" else 1
    return own + max((height(n) for n in below), default=0)


def test_stages_import_only_stages_below():
    found = [f"{m} ({stage(m)}) -> {t} ({stage(t)})" for m in MODULES if m != "siting"
             for t in upward(m, MODULES[m].read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def test_every_module_is_in_a_stage_and_few_stay_at_the_top():
    top = [m for m in MODULES if m.count(".") == 1 and MODULES[m].name != "__init__.py"]
    assert len(top) <= 12, top
    assert {stage(m) for m in MODULES if m != "siting"} <= set(LAYERS)
    for m in MODULES:
        if m.count(".") == 1 and MODULES[m].name == "__init__.py":
            assert m.split(".")[1] in LAYERS, f"{m}: a subpackage that is not a stage of LAYERS"


@pytest.mark.parametrize(("source", "line"), [
    ("siting.io.coords", "from ..cli import commands"),
    ("siting.io.coords", "def f():\n    from ..outputs.maps import coverage_map"),
    ("siting.engine.routing", "if TYPE_CHECKING:\n    from ..plan.sites import SitePlan"),
    ("siting.engine.network", "import siting.scenarios.comparison as sc"),
    ("siting.outputs.maps", "from siting._lazy import lazy_module\ncli = lazy_module('siting.cli.commands')"),
    ("siting.errors", "from .io import coords"),
])
def test_the_layer_check_catches_an_upward_import(source, line):
    """A test of the test: each way of importing upward is caught, as it would be in the real module."""
    assert upward(source, MODULES[source].read_text(encoding="utf-8")) == []
    assert upward(source, MODULES[source].read_text(encoding="utf-8") + "\n" + line + "\n"), line


def test_allowed_upward_uses_exist():
    for (m, t), why in UPWARD_OK.items():
        assert t in every_import(m, MODULES[m].read_text(encoding="utf-8")), f"stale entry {m} -> {t}: {why}"


def test_no_cycle_between_stages_or_modules_counting_type_only_imports():
    graph = {m: {t for t in every_import(m, MODULES[m].read_text(encoding="utf-8")) if (m, t) not in UPWARD_OK}
             for m in MODULES if m != "siting"}
    # a module's use of its own package's __init__ (the re-exports) is resolved by Python: not an edge
    graph = {m: {t for t in ts if not (m.startswith(t + ".") and MODULES[t].name == "__init__.py")}
             for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph.get(n_ := m, set())):
            if state.get(n) == 1:
                return [*path, m, n]
            if n not in state and (c := visit(n, [*path, m])):
                return c
        state[n_] = 2
        return None

    for m in graph:
        if m not in state and (c := visit(m, [])):
            raise AssertionError(" -> ".join(c))


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
