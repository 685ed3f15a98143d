"""What a cassette may hold: a size, and a nesting depth for the JSON bodies inside it.

A cassette is a file anyone can edit or hand in with a pull request. Without a size limit a huge
one is parsed whole (52 MB: 19 s and 460 MB of memory); without a depth limit a body nested
200,000 levels deep ends in a ``RecursionError`` in whatever walks it first (the JSON decoder,
the matcher's comparison, the YAML writer). Both are refused up front with the file, and for a
body the interaction, named. The depth limit is the one YAML documents have
(``agent_runtime.yamlsource.MAX_DEPTH``): a JSON body inside a cassette may nest as deep as the
cassette's own YAML may.
"""

from __future__ import annotations

import json
import re
from typing import Final

from agent_runtime.yamlsource import MAX_DEPTH

__all__ = ["MAX_CASSETTE_BYTES", "MAX_DEPTH", "TooDeep", "loads_json", "size_problem"]

# Far above any recording of one cell (the largest of the project's real-world recordings is a
# few hundred KB), far below what takes seconds and hundreds of MB to parse.
MAX_CASSETTE_BYTES: Final = 16 * 1024 * 1024

_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET: Final = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """A JSON text nests deeper than ``MAX_DEPTH`` levels."""


def loads_json(text: str | bytes) -> object:
    """``json.loads(text)``, refused with ``TooDeep`` (a ``ValueError``, as for any text that is
    no JSON) when it nests deeper than ``MAX_DEPTH`` levels, before the decoder recurses."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="surrogatepass")
    # A text with few brackets cannot nest deeply: counting them costs nearly nothing, the
    # bracket walk runs only for the bodies that could exceed the limit.
    if text.count("[") + text.count("{") > MAX_DEPTH:
        depth = _depth(text)
        if depth > MAX_DEPTH:
            raise TooDeep(f"the JSON nests {depth} levels deep; at most {MAX_DEPTH} are read")
    return json.loads(text)


def _depth(text: str) -> int:
    """How deep the brackets of ``text`` nest, strings (where brackets are only characters) left out."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def size_problem(size: int) -> str | None:
    """Why a cassette of ``size`` bytes is not read, or None."""
    if size > MAX_CASSETTE_BYTES:
        return (
            f"the cassette is {size} bytes, over the limit of {MAX_CASSETTE_BYTES} bytes a cassette may have; "
            "it is refused before it is read (record fewer or smaller interactions per cell)"
        )
    return None
