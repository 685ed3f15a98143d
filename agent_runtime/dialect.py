"""The text dialect: tools described in the prompt, calls written as text.

Used when a cell runs with ``tools: text`` or when a route rejects native tools
(``tools_unsupported`` -> ``override_tools``). A call is one block, on lines of
its own, holding one JSON object::

    <tool_call>
    {"name": "list_dir", "arguments": {"path": "."}}
    </tool_call>

The provider emulator writes calls with ``format_tool_call``, so the runtime's
parser and the emulator agree on the format by construction.
"""

from __future__ import annotations

import json
from typing import Any

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"


def format_tool_call(name: str, arguments: dict[str, Any] | str) -> str:
    """One call block. ``arguments`` given as a string is inserted verbatim (to write malformed calls)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return f'{CALL_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {args}}}\n{CALL_CLOSE}'
