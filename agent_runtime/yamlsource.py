"""Checked YAML loading: the one loader for every YAML file the project reads.

Scenarios, ``kylecode run`` configs and cassettes all come through :func:`load`. It reads the
file as UTF-8, then walks the parser's events once (flat and lazy: nothing deep is built yet)
and refuses, in the project's own words and with ``file:line``:

- nesting deeper than :data:`MAX_DEPTH` collections, counted through aliases. The check runs
  before anything is composed, so the project's message comes first whatever nesting limit
  the installed PyYAML (or libyaml) has of its own;
- aliases that expand a value beyond :data:`MAX_VALUES` values (an alias bomb) or that refer
  to a value containing them (a recursive alias);
- explicit tags the safe constructor does not know, ``!!python/...`` above all: files are
  data, and nothing they say is ever run;
- a key given twice in one mapping (YAML loaders silently keep the last one).

The same walk records the line of every key path, so errors found later (a wrong value in
``matrix.fault[2]``) can name ``file:line``. Only then does PyYAML's safe loader (its C
loader when available) build the data. Every failure is a :class:`YAMLSourceError`, a
``ConfigError``: a syntax error too, never a PyYAML exception.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from agent_runtime.errors import ConfigError

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "KeyPath",
    "LocatedDocument",
    "YAMLSourceError",
    "format_keypath",
    "load",
    "parse_keypath",
]

# No scenario, config or cassette comes near these; a document beyond them is a mistake or an attack
# (an alias bomb expands exponentially; deep nesting overflows recursive readers).
MAX_DEPTH: Final = 100
MAX_VALUES: Final = 100_000

KeyPath = tuple[str | int, ...]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_PREFIX = "tag:yaml.org,2002:"
_MERGE_TAG = _STANDARD_PREFIX + "merge"


class YAMLSourceError(ConfigError):
    """A YAML file that cannot be loaded. ``where`` is ``file:line``; ``problem`` is the message
    without it (for callers that phrase it their own way, such as "corrupt cassette (...)")."""

    def __init__(self, problem: str, *, path: str | Path, line: int) -> None:
        self.problem = problem
        super().__init__(problem, where=f"{path}:{line}")


@dataclass(slots=True)
class LocatedDocument:
    """A loaded YAML document and the line (1-based) of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, keypath: KeyPath) -> int:
        """Line of the deepest known prefix of ``keypath`` (1 when none is known)."""
        for end in range(len(keypath), -1, -1):
            line = self.lines.get(keypath[:end])
            if line is not None:
                return line
        return 1

    def where(self, keypath: KeyPath) -> str:
        return f"{self.path}:{self.line_of(keypath)}"


def format_keypath(keypath: KeyPath) -> str:
    """``("matrix", "fault", 2, "at")`` -> ``matrix.fault[2].at``."""
    out = ""
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_keypath(text: str) -> KeyPath:
    """Inverse of :func:`format_keypath` (for ConfigError keys such as ``agent.recovery.x[0]``)."""
    parts: list[str | int] = []
    for dotted in text.replace("[", ".[").split("."):
        if not dotted:
            continue
        if dotted.startswith("[") and dotted.endswith("]") and dotted[1:-1].isdigit():
            parts.append(int(dotted[1:-1]))
        else:
            parts.append(dotted)
    return tuple(parts)


def _read_utf8(path: str | Path) -> str:
    """The text of ``path``; ``YAMLSourceError`` naming the line when it is not UTF-8. ``OSError``
    (a missing or unreadable file) is the caller's to word."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YAMLSourceError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8",
            path=path,
            line=raw[: exc.start].count(b"\n") + 1,
        ) from None


def load(path: str | Path, text: str | None = None) -> LocatedDocument:
    """The YAML document at ``path`` (or ``text``, named ``path`` in errors), checked as the module
    docstring says. An empty document loads as ``None``. Raises ``YAMLSourceError``, or ``OSError``
    when ``text`` is not given and the file cannot be read."""
    path = Path(path)
    if text is None:
        text = _read_utf8(path)
    lines: dict[KeyPath, int] = {}
    try:
        try:
            _walk(_Loader, text, path, lines)
        except yaml.YAMLError:
            if _Loader is not yaml.SafeLoader:
                _recheck_in_python(text, path)
            raise
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else _construct(loader, node, path)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, path, text) from None
    return LocatedDocument(path, data, lines)


def _recheck_in_python(text: str, path: Path) -> None:
    """Raise this module's own error if the document breaks one of its limits before it breaks the
    grammar. libyaml looks ahead: it scans a whole line of ``[[[[...`` (and stops at its own nesting
    limit) before the first event reaches ``_walk``. PyYAML's pure-Python parser has no limit of its
    own, so its events get as far as the check does; only documents libyaml refused pay for it."""
    with contextlib.suppress(yaml.YAMLError):  # then the caller reports libyaml's finding
        _walk(yaml.SafeLoader, text, path, {})


class _Frame:
    """One open collection of the event walk."""

    __slots__ = ("anchor", "depth", "expect_key", "index", "is_mapping", "key", "keypath", "keys", "line", "size")

    def __init__(self, is_mapping: bool, keypath: KeyPath | None, line: int, anchor: str | None) -> None:
        self.is_mapping = is_mapping
        self.keypath = keypath  # None below a key that is not a plain scalar: such paths are not indexed
        self.line = line
        self.anchor = anchor
        self.size = 0  # values inside, as expanded through aliases
        self.depth = 0  # collection levels inside, as expanded through aliases
        self.expect_key = True  # mappings: the next node is a key
        self.key: str | None = None  # mappings: the key of the value that comes next
        self.keys: dict[str, int] = {}  # mappings: key -> line it was first given on
        self.index = 0  # sequences: position of the next item


def _walk(loader_class: Any, text: str, path: Path, lines: dict[KeyPath, int]) -> None:
    """Every check of the module docstring, on the parser's events (no recursion, each event once)."""
    # anchor -> (size, depth, value when the anchored node is a scalar) of what an alias to it stands for
    anchors: dict[str, tuple[int, int, str | None]] = {}
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    nodes = documents = 0
    known_tags = loader_class.yaml_constructors
    loader = loader_class(text)
    try:
        while True:
            event = loader.get_event()
            kind = event.__class__
            if kind is ScalarEvent or kind is AliasEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
                nodes += 1
                line = event.start_mark.line + 1
                parent = stack[-1] if stack else None
                is_key = parent is not None and parent.is_mapping and parent.expect_key
                keypath = () if parent is None else _child_keypath(parent)
                if kind is AliasEvent:
                    size, depth, value = _alias(event, anchors, open_anchors, len(stack), path, line)
                    if is_key and value is not None:
                        _add_key(parent, value, line, path, lines)  # type: ignore[arg-type]
                    elif keypath is not None:
                        lines.setdefault(keypath, line)
                    _child_done(stack, size, depth, value, is_key and value is None)
                    continue
                tag = event.tag
                if tag is not None and tag != "!" and tag != _MERGE_TAG and tag not in known_tags:
                    raise _tag_error(tag, path, line)
                if kind is ScalarEvent:
                    if is_key:
                        if not _is_merge_key(event, loader):
                            _add_key(parent, event.value, line, path, lines)  # type: ignore[arg-type]
                    elif keypath is not None:
                        lines.setdefault(keypath, line)
                    if event.anchor is not None:
                        anchors[event.anchor] = (1, 0, event.value)
                    _child_done(stack, 1, 0, event.value, False)
                    continue
                # a mapping or a sequence starts
                if len(stack) >= MAX_DEPTH:
                    raise YAMLSourceError(
                        f"the document nests deeper than {MAX_DEPTH} levels here; flatten it", path=path, line=line
                    )
                if keypath is not None:
                    lines.setdefault(keypath, line)
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                stack.append(_Frame(kind is MappingStartEvent, None if is_key else keypath, line, event.anchor))
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                done = stack.pop()
                size, depth = done.size + 1, done.depth + 1
                # Size alone is no fault (a long recording is big); aliases multiplying it are.
                if size > MAX_VALUES and size > 10 * nodes:
                    raise YAMLSourceError(
                        f"YAML aliases expand this value to more than {MAX_VALUES} values "
                        "(an alias bomb?); write the values out or use fewer aliases",
                        path=path,
                        line=done.line,
                    )
                if done.anchor is not None:
                    anchors[done.anchor] = (size, depth, None)
                    open_anchors.discard(done.anchor)
                _child_done(stack, size, depth, None, False)
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YAMLSourceError(
                        "a second YAML document ('---'); a file holds one document",
                        path=path,
                        line=event.start_mark.line + 1,
                    )
            elif kind is StreamEndEvent:
                return
    finally:
        loader.dispose()


def _child_keypath(parent: _Frame) -> KeyPath | None:
    """The key path of the node that comes next inside ``parent`` (None: not indexed; a key is
    indexed as the path it opens, by ``_add_key``)."""
    if parent.keypath is None:
        return None
    if not parent.is_mapping:
        return (*parent.keypath, parent.index)
    if parent.expect_key or parent.key is None:
        return None
    return (*parent.keypath, parent.key)


def _child_done(stack: list[_Frame], size: int, depth: int, scalar: str | None, complex_key: bool) -> None:
    """Account a finished node to the collection around it."""
    if not stack:
        return
    parent = stack[-1]
    parent.size += size
    parent.depth = max(parent.depth, depth)
    if not parent.is_mapping:
        parent.index += 1
    elif parent.expect_key:
        parent.key = None if complex_key or depth else scalar
        parent.expect_key = False
    else:
        parent.expect_key = True


def _add_key(parent: _Frame, key: str, line: int, path: Path, lines: dict[KeyPath, int]) -> None:
    first = parent.keys.get(key)
    if first is not None:
        raise YAMLSourceError(
            f"duplicate key {key!r} (first given on line {first}); YAML would keep only the "
            "last one: remove one of them or merge the two into one",
            path=path,
            line=line,
        )
    parent.keys[key] = line
    if parent.keypath is not None:
        lines.setdefault((*parent.keypath, key), line)


def _is_merge_key(event: ScalarEvent, loader: Any) -> bool:
    """``<<`` as YAML's merge key (plain, or tagged ``!!merge``): it adds keys, it is not one."""
    if event.tag == _MERGE_TAG:
        return True
    return (
        event.tag is None
        and event.value == "<<"
        and loader.resolve(yaml.ScalarNode, event.value, event.implicit) == _MERGE_TAG
    )


def _alias(
    event: AliasEvent,
    anchors: dict[str, tuple[int, int, str | None]],
    open_anchors: set[str],
    open_levels: int,
    path: Path,
    line: int,
) -> tuple[int, int, str | None]:
    anchor = event.anchor
    if anchor in open_anchors:
        raise YAMLSourceError(
            "a YAML alias refers to a value that contains it (a recursive alias); write the value out",
            path=path,
            line=line,
        )
    if anchor not in anchors:
        raise YAMLSourceError(
            f"invalid YAML: the alias *{anchor} comes before any anchor &{anchor}; define the anchor first",
            path=path,
            line=line,
        )
    size, depth, value = anchors[anchor]
    if open_levels + depth > MAX_DEPTH:
        raise YAMLSourceError(
            f"the document nests deeper than {MAX_DEPTH} levels here (through the alias *{anchor}); flatten it",
            path=path,
            line=line,
        )
    return size, depth, value


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_STANDARD_PREFIX) :] if tag.startswith(_STANDARD_PREFIX) else tag


def _tag_error(tag: str, path: Path, line: int) -> YAMLSourceError:
    shown = _shown_tag(tag)
    if tag.startswith(_STANDARD_PREFIX + "python/"):
        return YAMLSourceError(
            f"the tag {shown} would build a Python object; tags that build Python objects "
            "are never loaded: these files are data",
            path=path,
            line=line,
        )
    return YAMLSourceError(f"unknown tag {shown}; only YAML's standard tags are read: remove it", path=path, line=line)


def _construct(loader: Any, root: yaml.Node, path: Path) -> Any:
    """``loader.construct_document(root)``; a scalar whose explicit tag does not fit it (``!!int abc``)
    is named by its line instead of escaping as a ``ValueError``."""
    try:
        return loader.construct_document(root)
    except (ValueError, TypeError, AttributeError, OverflowError):
        pass
    seen: set[int] = set()
    todo = [root]
    probe = yaml.SafeLoader("")
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                probe.construct_object(node)
            except (ValueError, TypeError, AttributeError, OverflowError):
                raise YAMLSourceError(
                    f"invalid YAML: the value {node.value!r} cannot be read as "
                    f"{_shown_tag(node.tag)}; fix the value or remove the tag",
                    path=path,
                    line=node.start_mark.line + 1,
                ) from None
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value
        elif isinstance(node, yaml.MappingNode):
            todo += [n for pair in node.value for n in pair]
    raise YAMLSourceError("invalid YAML: a value does not fit its tag", path=path, line=root.start_mark.line + 1)


def _syntax_error(exc: yaml.YAMLError, path: Path, text: str) -> YAMLSourceError:
    """PyYAML's complaint, led by the project's words and ``file:line``, with a hint where one helps."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        context = exc.context_mark
        if context is not None and mark is not None and context.line < mark.line:
            problem += f" (in what starts on line {context.line + 1})"
        rows = text.splitlines()
        if mark and mark.line < len(rows) and "\t" in rows[mark.line][: mark.column + 1]:
            problem += " (a tab: YAML indents with spaces only)"
        return YAMLSourceError(f"invalid YAML: {problem}", path=path, line=line)
    if isinstance(exc, yaml.reader.ReaderError):
        # The C reader counts bytes of the UTF-8 text, the Python one characters.
        before = (
            text.encode("utf-8")[: exc.position].decode("utf-8", "replace")
            if _Loader is not yaml.SafeLoader
            else text[: exc.position]
        )
        return YAMLSourceError(
            f"invalid YAML: a character YAML does not allow in text ({exc.reason}); remove it",
            path=path,
            line=before.count("\n") + 1,
        )
    return YAMLSourceError(f"invalid YAML: {exc}", path=path, line=1)
