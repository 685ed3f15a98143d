"""Workspace tools: ``list_dir``, ``read_file``, ``write_file``, ``mark_task_complete``.

Confinement contract: every path argument is relative to the workspace root. An
absolute path, a ``..`` that leaves the root, or a symlink whose target lies outside
the root is answered with an error result before anything is read or written.
Results name files by workspace-relative POSIX paths only, and listings are sorted,
so the next request is the same in any temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Final

from agent_runtime.loop.tools.registry import Tool, ToolContext, ToolError
from agent_runtime.messages import JSONObject, ToolSpec

__all__ = [
    "LIST_DIR",
    "MARK_TASK_COMPLETE",
    "READ_FILE",
    "WRITE_FILE",
    "resolve_in_workspace",
]

MAX_LIST_ENTRIES: Final = 1000
MAX_READ_BYTES: Final = 64 * 1024


def resolve_in_workspace(ctx: ToolContext, path: object) -> tuple[Path, str]:
    """The real path behind ``path`` and its workspace-relative spelling (``.`` for the root).

    Raises ``ToolError`` when the path is absolute or resolves (symlinks included) outside the root.
    """
    if not isinstance(path, str) or "\x00" in path:
        raise ToolError(f"invalid path {path!r}")
    if not path.strip():
        path = "."
    if PurePath(path).is_absolute() or path.startswith(("/", "\\")):
        raise ToolError(f"path {path!r} is absolute; give a path relative to the workspace")
    try:
        # resolve() follows symlinks before applying "..", exactly as the OS will on open().
        real = (ctx.root / path).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops raise RuntimeError on 3.11
        raise ToolError(f"cannot resolve path {path!r}: {exc.__class__.__name__}") from None
    if real != ctx.root and not real.is_relative_to(ctx.root):
        raise ToolError(f"path {path!r} is outside the workspace")
    rel = os.path.normpath(path).replace(os.sep, "/")
    return real, rel


def _list_dir(ctx: ToolContext, args: JSONObject) -> str:
    real, rel = resolve_in_workspace(ctx, args.get("path", "."))
    if not real.is_dir():
        raise ToolError(f"not a directory: {rel}" if real.exists() else f"no such directory: {rel}")
    prefix = "" if rel == "." else rel + "/"
    entries: list[str] = []
    try:
        with os.scandir(real) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir()  # follows symlinks: a link to a directory lists as one
                except OSError:
                    is_dir = False
                entries.append(prefix + entry.name + ("/" if is_dir else ""))
    except OSError as exc:
        raise ToolError(f"cannot list {rel}: {exc.strerror}") from None
    if not entries:
        return f"(empty directory: {rel})"
    entries.sort()
    shown = entries[:MAX_LIST_ENTRIES]
    if len(entries) > MAX_LIST_ENTRIES:
        shown.append(f"[{len(entries) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(shown)


def _read_file(ctx: ToolContext, args: JSONObject) -> str:
    real, rel = resolve_in_workspace(ctx, args["path"])
    if not real.is_file():
        raise ToolError(f"not a file: {rel}" if real.exists() else f"no such file: {rel}")
    try:
        size = real.stat().st_size
        with real.open("rb") as fh:
            data = fh.read(MAX_READ_BYTES)
    except OSError as exc:
        raise ToolError(f"cannot read {rel}: {exc.strerror}") from None
    if b"\x00" in data[:8192]:
        return f"(binary file: {rel}, {size} bytes)"
    text = data.decode("utf-8", errors="replace")
    if size > MAX_READ_BYTES:
        text += f"\n[truncated: showed the first {MAX_READ_BYTES} of {size} bytes]"
    return text


def _write_file(ctx: ToolContext, args: JSONObject) -> str:
    real, rel = resolve_in_workspace(ctx, args["path"])
    if real == ctx.root or real.is_dir():
        raise ToolError(f"is a directory: {rel}")
    data = args["content"].encode("utf-8")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data)  # bytes: no newline translation, the file is exactly what was asked
    except OSError as exc:
        raise ToolError(f"cannot write {rel}: {exc.strerror}") from None
    return f"wrote {len(data)} bytes to {rel}"


def _mark_task_complete(ctx: ToolContext, args: JSONObject) -> str:
    # Completion itself is decided by the loop (completion.py), which sees this call executed.
    return "Task marked complete."


def _object(properties: JSONObject, required: list[str]) -> JSONObject:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_PATH = {"type": "string", "description": "Path relative to the workspace root."}

LIST_DIR: Final = Tool(
    ToolSpec(
        "list_dir",
        "List the entries of a workspace directory, sorted; directories end with '/'.",
        _object({"path": {**_PATH, "description": "Directory relative to the workspace root (default '.')."}}, []),
    ),
    _list_dir,
    blocking=False,
)
READ_FILE: Final = Tool(
    ToolSpec("read_file", "Read a text file of the workspace.", _object({"path": _PATH}, ["path"])),
    _read_file,
    blocking=False,
)
WRITE_FILE: Final = Tool(
    ToolSpec(
        "write_file",
        "Create or overwrite a workspace file with the given content (parent directories are created).",
        _object(
            {"path": _PATH, "content": {"type": "string", "description": "The complete new file content."}},
            ["path", "content"],
        ),
    ),
    _write_file,
)
MARK_TASK_COMPLETE: Final = Tool(
    ToolSpec(
        "mark_task_complete",
        "Declare the task finished, with a one-line summary of what was done.",
        _object({"summary": {"type": "string", "description": "One line: what was done."}}, ["summary"]),
    ),
    _mark_task_complete,
)
