"""The example agents' tools as plain typed functions, the shape every framework registers.

``tools(root)`` gives ``list_dir``, ``read_file``, ``write_file`` and ``mark_task_complete``
bound to one workspace directory; each framework derives the tool's schema from the signature
and the docstring. A failing tool raises ``ToolFailed`` (a path outside the workspace, a missing
file): every framework turns a raising tool into an error result for the model. Listings are
sorted and paths workspace-relative, so the requests are the same on every machine (which
cassette replay relies on).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

FINISH = "mark_task_complete"
SYSTEM = "You are a careful coding agent. Use the tools; call mark_task_complete when the task is done."


class ToolFailed(Exception):
    """A tool call that could not be carried out; its message is the error result."""


def tools(root: Path) -> list[Callable[..., str]]:
    base = root.resolve()

    def inside(rel: str) -> Path:
        path = (base / rel).resolve()
        if path != base and base not in path.parents:
            raise ToolFailed(f"{rel!r} is outside the workspace")
        return path

    def list_dir(path: str = ".") -> str:
        """List a workspace directory (sorted; directories end with '/').

        Args:
            path: the directory, relative to the workspace.
        """
        try:
            return "\n".join(sorted(p.name + ("/" if p.is_dir() else "") for p in inside(path or ".").iterdir()))
        except OSError as exc:
            raise ToolFailed(f"cannot list {path!r}: {exc.strerror}") from None

    def read_file(path: str) -> str:
        """Read a text file of the workspace.

        Args:
            path: the file, relative to the workspace.
        """
        try:
            return inside(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ToolFailed(f"cannot read {path!r}: {exc.strerror}") from None

    def write_file(path: str, content: str) -> str:
        """Create or overwrite a text file of the workspace.

        Args:
            path: the file, relative to the workspace.
            content: the whole new content.
        """
        target = inside(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {target.relative_to(base)}"

    def mark_task_complete(summary: str) -> str:
        """Call when the task is done, with a one-line summary.

        Args:
            summary: what was done.
        """
        return "done"

    return [list_dir, read_file, write_file, mark_task_complete]
