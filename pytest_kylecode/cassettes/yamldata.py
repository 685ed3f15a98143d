"""``yaml.load(text, CSafeLoader)`` for plain data, about twice as fast.

Replay parses one cassette per cell, so YAML loading was the largest single cost of a
replayed cell (3.5 ms of a 20 KB cassette, ~1/3 of the cell). With the C loader most of that
time is not libyaml but PyYAML's Python side: one node object per value, then a generic
constructor walking the nodes. ``load_data`` builds dicts, lists and scalars straight from
libyaml's event stream instead (1.0 ms for the same cassette, measured with
``benchmarks/run.py``'s cassettes).

It takes only the plain-data subset our cassettes use: block or flow mappings and sequences
without anchors or explicit tags, scalars resolved by the loader's own resolver and, for
non-strings (null, bool, int, float, timestamp), built by the loader's own constructors.
Anything else (aliases, ``!!binary`` or other tags, merge keys, unhashable keys, several
documents, nesting deeper than 64, a syntax error) goes to ``yaml.load`` itself (or to the
caller's checked loader), which then returns or raises exactly what it always did. Equality with
``yaml.load`` is tested on every cassette and scenario of the project
(tests/pytest_kylecode/test_yamldata.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_PLAIN_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
)
_MAX_DEPTH = 64
_NO_KEY: Final = object()


class _Unsupported(Exception):
    """Outside the subset: ``yaml.load`` decides."""


def load_data(text: str, fallback: Callable[[str], object] | None = None) -> object:
    """The same as ``yaml.load(text, Loader=CSafeLoader)`` (or the pure-Python SafeLoader), or as
    ``fallback(text)``, a safe load with more checks, which only the documents outside the subset
    need (no alias can multiply a value here, and nesting stops short of any sane depth limit)."""
    try:
        return _from_events(text)
    except Exception:
        return yaml.load(text, Loader=_Loader) if fallback is None else fallback(text)


def _from_events(text: str) -> Any:
    loader = _Loader(text)
    try:
        get, resolve = loader.get_event, loader.resolve
        get()  # StreamStartEvent
        if get().__class__ is not DocumentStartEvent:
            return None  # an empty stream
        plain: dict[str, Any] = {}  # plain scalar text -> value (resolution runs once per distinct text)
        document: list[Any] = []
        top: Any = document
        is_map, key = False, _NO_KEY
        stack: list[tuple[Any, bool, object]] = []
        while True:
            event = get()
            cls = event.__class__
            if cls is ScalarEvent:
                if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                    raise _Unsupported
                value = event.value
                if event.implicit[0]:  # plain: resolved like the loader does (quoted is always str)
                    try:
                        value = plain[value]
                    except KeyError:
                        tag = resolve(ScalarNode, value, event.implicit)
                        if tag != _STR:
                            if tag not in _PLAIN_TAGS:
                                raise _Unsupported from None
                            value = loader.construct_object(ScalarNode(tag, value), deep=True)
                        plain[event.value] = value
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                    raise _Unsupported
                value = {} if cls is MappingStartEvent else []
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                top, is_map, key = stack.pop()
                if not stack:
                    break
                continue
            else:
                raise _Unsupported  # an alias
            if is_map:
                if key is _NO_KEY:
                    if value.__class__ is dict or value.__class__ is list:
                        raise _Unsupported  # an unhashable key: the loader's error
                    key = value
                else:
                    top[key] = value
                    key = _NO_KEY
            else:
                top.append(value)
            if cls is not ScalarEvent:
                if len(stack) >= _MAX_DEPTH:
                    raise _Unsupported
                stack.append((top, is_map, key))
                top, is_map, key = value, cls is MappingStartEvent, _NO_KEY
            elif not stack:
                break
        if get().__class__ is not DocumentEndEvent or get().__class__ is not StreamEndEvent:
            raise _Unsupported  # several documents: the loader's error
        return document[0]
    finally:
        loader.dispose()
