"""Paths derived from names: one check that a name is a single safe path component, one that a
path built under a root stays inside it, and the one way a file a user keeps is written.

Scenario names, route segments and cell ids become directory and file names (cassettes,
snapshots, run directories); workspace keys become files. ``name_problem`` says what is wrong
with a name as one component (empty, ``.``, ``..``, a separator, a NUL or control character, a
name Windows reserves, more bytes than a file system allows), so validation can refuse it with
the line that wrote it. ``inside`` is the last line of defence at every write: whatever a name
said, the path it produced must resolve (symlinks included) to the root or below it.
``write_atomic`` writes cassettes and snapshots: a temporary file and a rename, the temporary file
removed whatever happens to the write.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path, PurePath
from typing import Final

__all__ = [
    "MAX_COMPONENT_BYTES",
    "PathEscape",
    "inside",
    "is_temporary",
    "name_problem",
    "temporary_name",
    "write_atomic",
]

# NAME_MAX of ext4, xfs, btrfs, tmpfs and APFS.
MAX_COMPONENT_BYTES: Final = 255
# Device names Windows resolves in any directory, with any extension: a clone on Windows could
# neither check such a file out nor write it.
_RESERVED: Final = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


class PathEscape(ValueError):
    """A path built from names would leave the root it belongs under."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one path component, or None when it can."""
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} names a directory, not an entry of it"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if "\x00" in name:
        return "it contains a NUL byte"
    if _CONTROL.search(name):
        return "it contains a control character"
    if _RESERVED.match(name):
        return f"{name!r} is a device name reserved on Windows"
    if name != name.rstrip(". "):
        return "it ends with a dot or a space (dropped silently on Windows)"
    size = len(name.encode("utf-8", errors="surrogatepass"))
    if size > MAX_COMPONENT_BYTES:
        return f"it is {size} bytes long; a file name has at most {MAX_COMPONENT_BYTES}"
    return None


def inside(root: str | os.PathLike[str], *parts: str | os.PathLike[str]) -> Path:
    """``root`` joined with ``parts``, refused with ``PathEscape`` unless it resolves to ``root``
    or below it (an absolute part, a ``..`` too many, a symlink that points out, a NUL byte)."""
    path = Path(root, *parts)
    if "\x00" in os.fspath(path):
        raise PathEscape(f"{os.fspath(path)!r} contains a NUL byte")
    for part in parts:
        if PurePath(part).is_absolute():
            raise PathEscape(f"{path} is built from an absolute path {os.fspath(part)!r}; it must stay inside {root}")
    base = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
        raise PathEscape(f"{path} resolves to {real}, outside {root}")
    return path


# -- writing a file a user keeps -------------------------------------------------------------------

# ``.NAME.PID.tmp`` beside ``NAME``: hidden, and found again by ``is_temporary`` when a write was
# cut short by something no ``finally`` survives (a kill -9, a power cut).
_TEMPORARY: Final = re.compile(r"^\..+\.[0-9]+\.tmp$")


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is the temporary file of a ``write_atomic`` that never finished."""
    return bool(_TEMPORARY.match(name))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and a rename: a reader, and
    the file after a failed or interrupted write, sees the old content whole or the new one
    whole. The temporary file is removed whenever the write fails (a full disk, a file size
    limit, an exception)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
