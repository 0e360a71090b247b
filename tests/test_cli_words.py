"""The library speaks parameter names; only the command line (siting/cli/) speaks flags.

A message of the library that says ``--dedupe`` is wrong for a notebook user; the CLI translates
``dedupe=True`` / `` `dedupe` `` into its flags (:func:`siting.cli.commands.cli_words`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import siting
from siting.cli.commands import cli_words

PACKAGE = Path(siting.__file__).parent
CLI_PACKAGE = PACKAGE / "cli"
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _argv_items(tree: ast.AST) -> set[int]:
    """String items of list/tuple literals (a subprocess's argv, e.g. Chromium's own switches), not messages."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple):
            for item in node.elts:
                out |= {id(n) for n in ast.walk(item) if isinstance(n, ast.Constant)}
    return out


def _is_message_call(node: ast.AST) -> bool:
    """``raise ...`` or a call of ``warn`` / ``warnings.warn`` / ``warn_explicit``."""
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return name in {"warn", "warn_explicit"}
    return False


def flags_in_messages(path: Path) -> list[str]:
    """``file:line: text`` of every string literal holding a ``--flag``: in raise/warn calls, and in any
    other expression of the module except docstrings and argv lists (message parts built beforehand)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _argv_items(tree)
    in_calls = {id(n) for call in ast.walk(tree) if _is_message_call(call) for n in ast.walk(call)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and FLAG.search(node.value):
            if id(node) in in_calls or id(node) not in skip:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    return found


def test_library_messages_name_parameters_not_flags() -> None:
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if CLI_PACKAGE not in p.parents]
    assert len(files) > 30
    found = [hit for p in files for hit in flags_in_messages(p)]
    assert not found, ("CLI flags in library messages (say `name` or name=True; siting/cli translates):\n"
                       + "\n".join(found))


def test_the_scan_finds_flags(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('import warnings\n\n\ndef f(x):\n    """Say --x in a docstring: fine."""\n'
                   '    note = "give --dedupe"\n    warnings.warn(f"use --overwrite {x}")\n'
                   '    raise ValueError("--place needs --population")\n    return ["--headless"]\n', encoding="utf-8")
    found = flags_in_messages(bad)
    assert sorted(hit.split(":")[1] for hit in found) == ["6", "7", "8"]


@pytest.mark.parametrize(("library", "terminal"), [
    ("counted again; give dedupe=True to drop them", "counted again; give --dedupe to drop them"),
    ("dropped (dedupe=True)", "dropped (--dedupe)"),
    ("`population` (a file) is needed with `place` (buildings are read from `osm` files only)",
     "--population (a file) is needed with --place (buildings are read from --osm files only)"),
    ("`subdistrict_totals` needs 街道 boundaries (`boundaries`, or an OSM file that has them)",
     "--subdistrict-totals needs 街道 boundaries (--boundaries, or an OSM file that has them)"),
    ("or give allow_broken_network=True to go on anyway", "or give --allow-broken-network to go on anyway"),
    ("`out` /tmp/x is the home or root folder", "--out /tmp/x is the home or root folder"),
    ("set `cache_dir` or SITING_CACHE_DIR", "set --cache-dir or SITING_CACHE_DIR"),
    ("spread_polygons=True spreads them", "--spread-polygons spreads them"),
    ("facility_crs='bd09'", "--facility-crs bd09"),
])
def test_cli_translates_the_library_words(library: str, terminal: str) -> None:
    assert cli_words(library) == terminal


def test_summary_notes_name_the_flags_of_the_command_run(monkeypatch):
    """Notes end up in summary.json and the report: a CLI run names its flags there too, not parameters."""
    from dataclasses import dataclass
    from types import SimpleNamespace

    from siting import pipeline
    from siting.cli import commands as cli

    @dataclass(frozen=True)
    class Summary:
        notes: tuple[str, ...]

    notes = ("47 rows outside 徐汇区 repeat an earlier row: give dedupe=True to drop them",
             "no area named by `district`")
    monkeypatch.setattr(pipeline, "load_inputs", lambda **kw: "loaded")
    monkeypatch.setattr(pipeline, "run_coverage", lambda *a, **kw: SimpleNamespace(summary=Summary(notes)))
    inputs = SimpleNamespace(load_arguments=dict, settings=lambda: None, facility_types=None)
    _, result = cli._inputs_and_coverage(inputs, None, "coverage")
    assert result.summary.notes == ("47 rows outside 徐汇区 repeat an earlier row: give --dedupe to drop them",
                                    "no area named by --district")
