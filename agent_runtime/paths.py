"""Paths derived from names: one check that a name is a single safe path component, and one
that a path built under a root stays inside it.

Scenario names, route segments and cell ids become directory and file names (cassettes,
snapshots, run directories); workspace keys become files. ``name_problem`` says what is wrong
with a name as one component (empty, ``.``, ``..``, a separator, a NUL or control character, a
name Windows reserves, more bytes than a file system allows), so validation can refuse it with
the line that wrote it. ``inside`` is the last line of defence at every write: whatever a name
said, the path it produced must resolve (symlinks included) to the root or below it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath
from typing import Final

__all__ = ["MAX_COMPONENT_BYTES", "PathEscape", "inside", "name_problem"]

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
