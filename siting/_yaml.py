r"""YAML files from others (scenario and jobs files), read defensively: size cap, alias budget, duplicate keys.

:func:`read_yaml` parses with PyYAML's safe loader (no object tags) and refuses, before any value is
built:

- a file over :data:`MAX_BYTES` (1 MB: a scenario file is a page of keys; big data goes in the files it names);
- aliases that expand the document by more than :data:`MAX_ALIAS_NODES` nodes (the "billion laughs":
  707 bytes of nested anchors can stand for 40 million values) or that point into their own anchor;
- a key given twice in one mapping (YAML says keys are unique; PyYAML would silently keep the last one),
  named with both lines;
- text holding a lone UTF-16 surrogate (a ``\ud800`` escape alone: no character, no file can hold it).

Merge keys (``<<: *defaults``) work, and a key they bring in may be set again beside them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import SitingError

__all__ = ["MAX_ALIAS_NODES", "MAX_BYTES", "YamlProblem", "read_yaml"]

#: Largest YAML file read (bytes).
MAX_BYTES = 1_000_000
_SURROGATE = re.compile("[\ud800-\udfff]")
#: How many nodes aliases may add to a document beyond the ones written out.
MAX_ALIAS_NODES = 10_000


class YamlProblem(Exception):
    """What :func:`read_yaml` found wrong (the caller raises its own error class with the file named)."""


def read_yaml(path: str | Path, error: type[SitingError], *, bad: str = "not valid YAML") -> Any:
    """Return the content of the YAML file ``path``, or raise ``error`` naming the file and the problem.

    ``bad`` starts the message of a syntax error (``"{path}: {bad}: {what PyYAML said}"``).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise error(f"{path}: the file is {size:,} bytes; a YAML file may be at most {MAX_BYTES:,} bytes "
                        "(name big tables as files inside it instead)")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return parse_yaml(text)
    except YamlProblem as exc:
        raise error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: {bad}: {exc}") from None
    except RecursionError:
        raise error(f"{path}: the YAML is nested too deeply") from None


def parse_yaml(text: str) -> Any:
    """Parse YAML text with the checks of :func:`read_yaml` (raises :class:`YamlProblem` or ``yaml.YAMLError``)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check(root: yaml.Node) -> None:
    """Refuse duplicate keys, self-containing anchors and aliases expanding beyond the budget."""
    expanded: dict[int, int] = {}  # node id → nodes it stands for once aliases are expanded
    written = 0  # distinct nodes (what the file spells out)
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            expanded[key] = 1 + sum(expanded[id(k)] for k in kids)
            if expanded[key] - written > MAX_ALIAS_NODES:
                raise YamlProblem(f"aliases (*name) at line {node.start_mark.line + 1} expand the document to over "
                                  f"{written + MAX_ALIAS_NODES:,} values; at most {MAX_ALIAS_NODES:,} may come "
                                  "from aliases (write the values out)")
            continue
        if key in expanded:
            continue
        if key in open_:
            raise YamlProblem(f"the anchor at line {node.start_mark.line + 1} contains an alias to itself")
        open_.add(key)
        written += 1
        if isinstance(node, yaml.MappingNode):
            _duplicates(node)
        elif isinstance(node, yaml.ScalarNode) and (half := _SURROGATE.search(node.value)) is not None:
            raise YamlProblem(f"the text at line {node.start_mark.line + 1} holds a lone surrogate "
                              f"({half[0].encode('unicode_escape').decode()}), which is not "
                              "a character; write the character itself (a \\ud83d\\ude00 pair reads as two halves)")
        stack.append((node, True))
        stack.extend((k, False) for k in reversed(_children(node)) if id(k) not in expanded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _duplicates(node: yaml.MappingNode) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        first = seen.get((key.tag, key.value))
        seen.setdefault((key.tag, key.value), line)
        if first is not None:
            raise YamlProblem(f"key {key.value!r} is given twice, at lines {first} and {line}; "
                              "YAML keys must be unique (keep one)")
