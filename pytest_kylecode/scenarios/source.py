"""YAML with line numbers.

``yaml.safe_load`` drops positions, so the document is composed into nodes
first (safe constructors only) and the line of every key path is kept. Errors
found later can then name ``file:line`` for any ``("matrix", "fault", 2)`` path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_runtime.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KeyPath = tuple[str | int, ...]


@dataclass(slots=True)
class LocatedDocument:
    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, keypath: KeyPath) -> int:
        """Line (1-based) of the deepest known prefix of ``keypath``."""
        for end in range(len(keypath), -1, -1):
            line = self.lines.get(keypath[:end])
            if line is not None:
                return line
        return 1

    def where(self, keypath: KeyPath) -> str:
        return f"{self.path}:{self.line_of(keypath)}"


def format_keypath(keypath: KeyPath) -> str:
    out = ""
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_keypath(text: str) -> KeyPath:
    """Inverse of ``format_keypath`` (for ConfigError keys such as ``agent.recovery.x[0]``)."""
    parts: list[str | int] = []
    for dotted in text.replace("[", ".[").split("."):
        if not dotted:
            continue
        if dotted.startswith("[") and dotted.endswith("]") and dotted[1:-1].isdigit():
            parts.append(int(dotted[1:-1]))
        else:
            parts.append(dotted)
    return tuple(parts)


def load_located(path: Path, text: str | None = None) -> LocatedDocument:
    """Parse ``path`` safely; a YAML syntax error becomes a ConfigError naming file:line."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8",
                              where=f"{path}:{line}") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_shape(node, path)
            _check_duplicate_keys(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        lines = text.splitlines()
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            problem += " (a tab: YAML indents with spaces only)"
        if "python/" in problem:
            problem += " (tags that build Python objects are never loaded: scenario files are data)"
        raise ConfigError(f"invalid YAML: {problem}", where=f"{path}:{line}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=str(path)) from None
    finally:
        loader.dispose()
    doc = LocatedDocument(path, data)
    if node is not None:
        _index(node, (), doc.lines)
    return doc


# No scenario or cassette comes near these; a document beyond them is a mistake or an attack (an alias
# bomb expands exponentially; deep nesting overflowed the recursive line indexer with a traceback).
MAX_DEPTH = 100
MAX_VALUES = 100_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_shape(root: yaml.Node, path: Path) -> None:
    """Depth and size *as expanded through aliases*, computed once per node (linear, no recursion)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()  # nodes whose children are being measured: the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            total, deepest = 1, 0
            for kid in map(id, _children(node)):
                total += size[kid]
                deepest = max(deepest, depth[kid])
            size[key], depth[key] = total, deepest + 1
            open_nodes.discard(key)
            if deepest >= MAX_DEPTH:
                raise ConfigError(f"the document nests deeper than {MAX_DEPTH} levels here; flatten it",
                                  where=f"{path}:{node.start_mark.line + 1}")
            # Size alone is no fault (a long recording is big); aliases multiplying it are.
            if total > MAX_VALUES and total > 10 * len(size):
                raise ConfigError(f"YAML aliases expand this value to more than {MAX_VALUES} values (an alias "
                                  "bomb?); write the values out or use fewer aliases",
                                  where=f"{path}:{node.start_mark.line + 1}")
            continue
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key], depth[key] = 1, 1
            continue
        if key in open_nodes:
            raise ConfigError("a YAML alias refers to a value that contains it (a recursive alias); "
                              "write the value out", where=f"{path}:{node.start_mark.line + 1}")
        open_nodes.add(key)
        stack.append((node, True))
        stack += [(k, False) for k in _children(node)]


def safe_load_checked(stream: Any, path: str | Path) -> Any:
    """The YAML document of ``stream``, safely loaded, after ``_check_shape``: for files that are not
    scenarios (cassettes), which must not hang or crash a run either. Raises ConfigError (shape) or
    yaml.YAMLError (syntax, unsafe tags)."""
    loader = _Loader(stream)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_shape(node, Path(path))
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_duplicate_keys(root: yaml.Node, path: Path) -> None:
    """A key given twice in one mapping is an error: YAML loaders silently keep the last value, so a
    second ``expect:`` (or a file listed twice in ``workspace:``) would quietly replace the first.
    Checked on the composed nodes, before merge keys (``<<``) are expanded, each node once."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    line = key_node.start_mark.line + 1
                    if key_node.value in first:
                        raise ConfigError(
                            f"duplicate key {key_node.value!r} (first given on line {first[key_node.value]}); "
                            "YAML would keep only the last one: merge the two into one",
                            where=f"{path}:{line}")
                    first[key_node.value] = line
                stack += (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _index(node: yaml.Node, keypath: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(keypath, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*keypath, key_node.value)
                lines[child] = key_node.start_mark.line + 1
                _index(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*keypath, i), lines)
