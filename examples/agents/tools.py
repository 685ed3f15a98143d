"""The example agents' workspace tools: list, read and write files inside one directory, and finish.

Provider-neutral specs (``SPECS``) plus ``Workspace.run(name, arguments) -> (text, is_error)``.
Paths are confined to the workspace: an escaping path is an error result, never a read or
write outside it. Results use workspace-relative paths and sorted listings, so the requests
an agent sends are the same on every machine (which cassette replay relies on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FINISH = "mark_task_complete"

SPECS: list[dict[str, Any]] = [
    {
        "name": "list_dir",
        "description": "List a workspace directory (sorted; directories end with '/').",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": []},
    },
    {
        "name": "read_file",
        "description": "Read a text file of the workspace.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "write_file",
        "description": "Create or overwrite a text file of the workspace.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": FINISH,
        "description": "Call when the task is done, with a one-line summary.",
        "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
    },
]


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, rel: object) -> Path:
        if not isinstance(rel, str) or not rel:
            raise ValueError("a path relative to the workspace is required")
        path = (self.root / rel).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"{rel!r} is outside the workspace")
        return path

    def run(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """The tool's result text and whether it is an error result."""
        try:
            if name == "list_dir":
                path = self._path(arguments.get("path") or ".")
                return "\n".join(sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())), False
            if name == "read_file":
                return self._path(arguments.get("path")).read_text(encoding="utf-8"), False
            if name == "write_file":
                path = self._path(arguments.get("path"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(str(arguments.get("content", "")), encoding="utf-8")
                return f"wrote {path.relative_to(self.root)}", False
            if name == FINISH:
                return "done", False
            return f"unknown tool {name!r}", True
        except (OSError, ValueError) as exc:
            return f"error: {exc}", True
