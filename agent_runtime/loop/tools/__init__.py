"""Tools the agent can call: the workspace tools, their registry, validation and execution.

``WORKSPACE_TOOLS`` are the five tools of the runtime agent, in the order they are offered:
``list_dir`` and ``read_file`` (non-blocking), ``write_file``, ``run_shell`` and
``mark_task_complete`` (blocking). ``default_registry()`` is built once per process.
"""

from __future__ import annotations

import functools
from typing import Final

from agent_runtime.loop.tools.registry import Tool, ToolContext, ToolError, ToolOutcome, ToolRegistry, call_signature
from agent_runtime.loop.tools.shell import RUN_SHELL
from agent_runtime.loop.tools.workspace import LIST_DIR, MARK_TASK_COMPLETE, READ_FILE, WRITE_FILE, resolve_in_workspace

__all__ = [
    "LIST_DIR",
    "MARK_TASK_COMPLETE",
    "READ_FILE",
    "RUN_SHELL",
    "WORKSPACE_TOOLS",
    "WRITE_FILE",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
    "call_signature",
    "default_registry",
    "resolve_in_workspace",
]

WORKSPACE_TOOLS: Final[tuple[Tool, ...]] = (LIST_DIR, READ_FILE, WRITE_FILE, RUN_SHELL, MARK_TASK_COMPLETE)


@functools.cache
def default_registry() -> ToolRegistry:
    """The registry of ``WORKSPACE_TOOLS`` (shared: registries are immutable)."""
    return ToolRegistry(WORKSPACE_TOOLS)
