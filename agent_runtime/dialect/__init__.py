"""The text dialect: tools described in the prompt, calls written as text.

Used when a cell runs with ``tools: text`` or when a route rejects native tools
(``tools_unsupported`` -> ``override_tools``). A call is one block, on lines of
its own, holding one JSON object::

    <tool_call>
    {"name": "list_dir", "arguments": {"path": "."}}
    </tool_call>

The provider emulator writes calls with ``format_tool_call``, so the runtime's
parser and the emulator agree on the format by construction.

Results go back to the model as user messages holding one block per result::

    <tool_result id="call_t1_0" name="list_dir">
    README.md
    </tool_result>

``prompts.prepare_request`` turns the canonical conversation into the request of
one call in either tool mode; ``blocks.parse_tool_calls`` pulls call blocks out of
a reply. Both are pure and deterministic (sorted JSON keys), so a request is
reproducible byte for byte.
"""

from __future__ import annotations

from agent_runtime.dialect.blocks import (
    CALL_CLOSE,
    CALL_OPEN,
    UNNAMED_CALL,
    ParsedCall,
    format_call_block,
    format_tool_call,
    format_tool_result,
    parse_tool_calls,
)
from agent_runtime.dialect.prompts import prepare_request, render_system_prompt, render_tools_prompt

__all__ = [
    "CALL_CLOSE",
    "CALL_OPEN",
    "UNNAMED_CALL",
    "ParsedCall",
    "format_call_block",
    "format_tool_call",
    "format_tool_result",
    "parse_tool_calls",
    "prepare_request",
    "render_system_prompt",
    "render_tools_prompt",
]
