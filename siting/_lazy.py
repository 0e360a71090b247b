"""Private: lazy imports, so that ``import siting`` and ``siting --help`` do not load the heavy stack.

Two standard mechanisms, no dependency:

* :func:`attach_stub` — PEP 562 module ``__getattr__``/``__dir__`` for a package whose public names are
  declared, for type checkers and readers, in its ``__init__.pyi`` (``from .x import a, b`` and
  ``from . import x`` lines; the scientific-Python "SPEC 1" layout). The stub is the one list of
  names: attributes are imported from it on first use.
* :func:`lazy_module` — a module object whose code runs on first attribute access
  (:class:`importlib.util.LazyLoader`, the recipe of the ``importlib`` documentation).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def stub_names(stub: str | Path) -> dict[str, tuple[str, str]]:
    """Public name → (relative module, name there), read from a ``.pyi``; module ``""``: a submodule."""
    tree = ast.parse(Path(stub).read_text(encoding="utf-8"))
    where: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                where[alias.asname or alias.name] = (node.module or "", alias.name)
    return where


def attach_stub(package: str, init_file: str) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, from the ``__init__.pyi`` beside ``init_file``."""
    where = stub_names(Path(init_file).with_suffix(".pyi"))
    # ``from .access import access``: the package exports the function, never the submodule of that name
    # (the import system would set the submodule on the package when anything imports it).
    shadowed = frozenset(name for name, (source, original) in where.items() if source == name == original)
    if shadowed:
        module = sys.modules[package]
        module.__class__ = type("LazyPackage", (ModuleType,), {"__setattr__": _keeper(shadowed)})

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        source, original = where[name]
        if not source:  # a submodule: importing it also sets it on the package
            return importlib.import_module(f"{package}.{original}")
        module = importlib.import_module(f"{package}.{source}")
        if hasattr(module, original):
            value = getattr(module, original)
        else:  # ``from .engine import coverage``: a module of a stage
            value = importlib.import_module(f"{package}.{source}.{original}")
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, sorted(name for name in where if not name.startswith("_"))


def _keeper(shadowed: frozenset[str]) -> Callable[[ModuleType, str, Any], None]:
    def __setattr__(self: ModuleType, name: str, value: Any) -> None:
        if name in shadowed and isinstance(value, ModuleType):
            return
        ModuleType.__setattr__(self, name, value)

    return __setattr__


def lazy_module(name: str) -> ModuleType:
    """Return the module ``name``, imported now in name only: its code runs on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:  # as the import system does: a submodule is an attribute of its package
        setattr(sys.modules[parent], child, module)
    return module


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` re-exporting ``names`` (name → submodule) of a stage package on first use.

    So that ``lazy_module("siting.plan.sites")`` (which imports the package ``siting.plan`` first) and
    ``import siting.plan.candidates`` do not run the package's other modules.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            if importlib.util.find_spec(f"{package}.{name}") is not None:  # a module of the stage
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
