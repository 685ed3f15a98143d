"""Cell workspaces: every cell starts from exactly the scenario's files, without a new directory per cell.

Creating a temporary directory tree for each cell and removing it afterwards cost more than the
agent run itself on an ext4 runner (the ``rmdir`` calls of ``shutil.rmtree``: 5.2 ms of a 18 ms cell,
measured with ``benchmarks/run.py``). A ``WorkspacePool`` keeps one directory per distinct workspace
content (cells of one scenario, or of scenarios with the same files, share it) and hands it out
again only after checking that it is exactly as it was written: the same entries with the same
type, mode, size, mtime, ctime and inode, and the same bytes in every file (a scan and a few small
reads, tens of microseconds). When a run changed it (a tool wrote or added a file, a left-over
process did, a user's agent did anything at all), regular files are put back (extra files removed,
changed ones rewritten); any other difference (directories, modes, links) rebuilds the directory
from scratch, as before. Either way a cell sees the scenario's files and nothing else.

Workspaces larger than ``REUSE_LIMIT_BYTES`` are not pooled: reading them back would cost more than
writing them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent_runtime.paths import inside

PREFIX = "kylecode-ws-"
# The ``workerinput`` key of the directory an xdist controller gives its workers' pools.
WORKSPACES_KEY = "kylecode_workspaces"
REUSE_LIMIT_BYTES = 256 * 1024
POOL_SIZE = 16

# rel path ("" for the root) -> (mode, size, mtime_ns, ctime_ns, inode) from lstat
_State = dict[str, tuple[int, int, int, int, int]]


def write_workspace(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``; a path that would leave it is refused
    (validation refuses it first, with its line; this holds for files from anywhere else)."""
    for rel, content in files.items():
        path = inside(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def new_workspace(files: Mapping[str, str], parent: Path | None = None) -> Path:
    """A fresh temporary directory (under ``parent`` when given) holding ``files`` (relative path
    -> text); nothing is left behind when writing them fails or is interrupted."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    try:
        write_workspace(root, files)
    except BaseException:
        remove_tree(root)
        raise
    return root


def remove_tree(root: Path) -> None:
    """Remove ``root`` whatever a run left in it: a directory it made unreadable or unwritable
    (``chmod 000``) is made accessible again first; a tree that is already gone is fine."""

    def unlock(function: object, path: str, excinfo: object) -> None:
        # Removing an entry needs write and search permission on its directory; listing one needs read.
        for directory in {os.path.dirname(path), path}:
            with contextlib.suppress(OSError):
                if os.path.isdir(directory) and not os.path.islink(directory):
                    os.chmod(directory, stat.S_IRWXU)
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    with contextlib.suppress(FileNotFoundError):
        if sys.version_info >= (3, 12):
            shutil.rmtree(root, onexc=unlock)
        else:
            shutil.rmtree(root, onerror=unlock)


@dataclass(slots=True)
class _Entry:
    root: Path
    files: dict[str, bytes]  # rel path (os.sep separated) -> expected bytes
    state: _State = field(default_factory=dict)
    busy: bool = False


def _scan(root: Path) -> _State | None:
    """lstat of every entry under ``root``; None when the root is gone or unreadable."""
    state: _State = {}
    try:
        st = os.lstat(root)
        state[""] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        stack = [("", os.fspath(root))]
        while stack:
            rel, path = stack.pop()
            with os.scandir(path) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    name = f"{rel}{os.sep}{entry.name}" if rel else entry.name
                    state[name] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append((name, entry.path))
    except OSError:
        return None
    return state


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class WorkspacePool:
    """Workspaces of one process, reused across cells while they are untouched (see module docstring)."""

    def __init__(self, size: int = POOL_SIZE, parent: Path | None = None) -> None:
        """``parent``: where the pool's directory goes (the temporary directory when None); an
        xdist controller gives its workers one it removes itself, should a worker never close."""
        self._size = size
        self._parent = parent
        # Every workspace of the pool lives in this one directory, which ``close`` removes: a
        # workspace whose cell was interrupted half-way (a cell time limit, Ctrl-C) while it was
        # made, rebuilt or handed back cannot outlive the session.
        self._home: Path | None = None
        self._entries: OrderedDict[tuple[tuple[str, str], ...], list[_Entry]] = OrderedDict()
        self._owner: dict[Path, _Entry] = {}

    def acquire(self, files: Mapping[str, str]) -> Path:
        """A directory holding exactly ``files``; give it back with ``release``."""
        encoded = {os.path.normpath(rel): text.encode("utf-8") for rel, text in files.items()}
        if sum(map(len, encoded.values())) > REUSE_LIMIT_BYTES or len(encoded) != len(files):
            return self._new(files)
        key = tuple(files.items())
        entries = self._entries.get(key)
        if entries is not None:
            self._entries.move_to_end(key)
            for entry in entries:
                if not entry.busy:
                    if not self._restore(entry):
                        remove_tree(entry.root)
                        entry.root = self._new(files)
                        entry.state = _scan(entry.root) or {}
                    entry.busy = True
                    self._owner[entry.root] = entry
                    return entry.root
        entry = _Entry(self._new(files), encoded)
        entry.state = _scan(entry.root) or {}
        entry.busy = True
        self._entries.setdefault(key, []).append(entry)
        self._owner[entry.root] = entry
        self._evict()
        return entry.root

    def release(self, root: Path) -> None:
        """Give a workspace back (checked when it is next handed out); unpooled ones are removed."""
        entry = self._owner.pop(root, None)
        if entry is None:
            remove_tree(root)
        else:
            entry.busy = False

    def close(self) -> None:
        """Remove every workspace the pool made, handed out or not."""
        if self._home is not None:
            remove_tree(self._home)
            self._home = None
        self._entries.clear()
        self._owner.clear()

    def _new(self, files: Mapping[str, str]) -> Path:
        if self._home is None or not self._home.is_dir():
            self._home = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self._parent))
        return new_workspace(files, self._home)

    def _evict(self) -> None:
        while sum(len(e) for e in self._entries.values()) > self._size:
            key = next(iter(self._entries))
            entries = self._entries[key]
            idle = next((e for e in entries if not e.busy), None)
            if idle is None:
                self._entries.move_to_end(key)
                if all(e.busy for es in self._entries.values() for e in es):
                    return
                continue
            entries.remove(idle)
            if not entries:
                del self._entries[key]
            remove_tree(idle.root)

    def _restore(self, entry: _Entry) -> bool:
        """Make ``entry.root`` hold exactly its files again; False when only a rebuild will do."""
        state = _scan(entry.root)
        if state is None:
            return False
        expected = entry.state
        if state == expected and all(_read(entry.root / rel) == data for rel, data in entry.files.items()):
            return True
        # Put regular files back (extra ones go, missing or changed ones are written again); any
        # other difference -- a directory, a link, a type or permission change -- means a rebuild.
        if state[""][0] != expected[""][0]:
            return False
        try:
            for name in state.keys() - expected.keys():
                if not stat.S_ISREG(state[name][0]):
                    return False
                os.unlink(entry.root / name)
            for name, old in expected.items():
                if not name:
                    continue
                now = state.get(name)
                if stat.S_ISDIR(old[0]):
                    if now is None or now[0] != old[0]:
                        return False
                    continue
                if not stat.S_ISREG(old[0]) or (now is not None and now[0] != old[0]):
                    return False
                data = entry.files[name]
                if now != old or _read(entry.root / name) != data:
                    (entry.root / name).write_bytes(data)
        except OSError:
            return False
        rescanned = _scan(entry.root)
        if rescanned is None or rescanned.keys() != expected.keys():
            return False
        entry.state = rescanned
        return True
