"""WorkspacePool: a reused workspace always holds exactly the scenario's files."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from pytest_kylecode.workspaces import REUSE_LIMIT_BYTES, WorkspacePool, new_workspace

FILES = {"README.md": "# demo\n", "src/fs.c": "int main(void){return 0;}\n"}


def tree(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = "link"
        elif path.is_dir():
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = (path.read_text(), stat.S_IMODE(st.st_mode))
    return out


@pytest.fixture
def pool() -> WorkspacePool:
    pool = WorkspacePool()
    yield pool
    pool.close()


def test_an_untouched_workspace_is_handed_out_again(pool: WorkspacePool) -> None:
    first = pool.acquire(FILES)
    fresh = tree(first)
    assert {k: v[0] for k, v in fresh.items() if v[0] != "dir"} == FILES
    pool.release(first)
    second = pool.acquire(FILES)
    assert second == first and tree(second) == fresh


def test_a_busy_workspace_is_not_shared(pool: WorkspacePool) -> None:
    first = pool.acquire(FILES)
    second = pool.acquire(FILES)
    assert first != second and tree(first) == tree(second)


def test_written_added_and_deleted_files_are_put_back(pool: WorkspacePool) -> None:
    root = pool.acquire(FILES)
    fresh = tree(root)
    pool.release(root)
    for change in (
        lambda: (root / "README.md").write_text("# changed\n"),
        lambda: (root / "README.md").write_text("# dem0\n"),  # same size, maybe the same mtime tick
        lambda: (root / "notes.txt").write_text("new\n"),
        lambda: (root / "src" / "extra.c").write_text("x"),
        lambda: (root / "src" / "fs.c").unlink(),
    ):
        again = pool.acquire(FILES)
        assert again == root
        change()
        pool.release(again)
        restored = pool.acquire(FILES)
        assert tree(restored) == fresh
        pool.release(restored)


@pytest.mark.parametrize("change", ["dir", "chmod", "symlink", "rmdir", "root_gone"])
def test_other_changes_rebuild_the_workspace(pool: WorkspacePool, change: str, tmp_path: Path) -> None:
    root = pool.acquire(FILES)
    fresh = tree(root)
    if change == "dir":
        (root / "build").mkdir()
    elif change == "chmod":
        os.chmod(root / "README.md", 0o755)
    elif change == "symlink":
        (root / "escape").symlink_to(tmp_path)
    elif change == "rmdir":
        (root / "src" / "fs.c").unlink()
        (root / "src").rmdir()
    else:
        pool.release(root)
        import shutil

        shutil.rmtree(root)
        assert tree(pool.acquire(FILES)) == fresh
        return
    pool.release(root)
    rebuilt = pool.acquire(FILES)
    assert tree(rebuilt) == fresh
    assert not (tmp_path / "README.md").exists()


def test_large_workspaces_are_not_pooled(pool: WorkspacePool) -> None:
    big = {"data.txt": "x" * (REUSE_LIMIT_BYTES + 1)}
    root = pool.acquire(big)
    assert (root / "data.txt").stat().st_size == REUSE_LIMIT_BYTES + 1
    pool.release(root)
    assert not root.exists()


def test_different_contents_get_different_directories_and_close_removes_them() -> None:
    pool = WorkspacePool(size=2)
    roots = []
    for n in range(3):
        root = pool.acquire({"n.txt": str(n)})
        pool.release(root)
        roots.append(root)
    assert len(set(roots)) == 3
    assert not roots[0].exists()  # the least recently used one went beyond the pool size
    pool.close()
    assert not any(root.exists() for root in roots)


class _Interrupted(BaseException):
    """What a cell time limit or Ctrl-C raises in the middle of a write."""


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary directories of this test only, to count what is left in them."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _interrupt_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        raise _Interrupted

    monkeypatch.setattr(Path, "write_text", write_text)


def test_a_workspace_whose_files_fail_to_be_written_is_removed(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_writes(monkeypatch)
    with pytest.raises(_Interrupted):
        new_workspace(FILES)
    assert list(private_tmp.iterdir()) == []


def test_a_rebuild_interrupted_half_way_leaves_nothing_after_close(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild removes the changed workspace and writes a new one; interrupted there, the
    pool must still know of every directory it made."""
    pool = WorkspacePool()
    root = pool.acquire(FILES)
    (root / "src").chmod(0o700)
    (root / "made-by-the-agent").mkdir()  # a new directory: only a rebuild restores the workspace
    pool.release(root)
    with monkeypatch.context() as patch:
        _interrupt_writes(patch)
        with pytest.raises(_Interrupted):
            pool.acquire(FILES)
    again = pool.acquire(FILES)
    (private_tmp / "reference").mkdir()
    assert tree(again) == tree(new_workspace(FILES, private_tmp / "reference"))
    pool.close()
    assert [p.name for p in private_tmp.iterdir()] == ["reference"]


def test_close_removes_a_workspace_a_run_made_unwritable(private_tmp: Path) -> None:
    pool = WorkspacePool()
    root = pool.acquire(FILES)
    (root / "src").chmod(0o500)
    (root / "locked").mkdir()
    (root / "locked" / "inner").write_text("x")
    (root / "locked").chmod(0)
    pool.close()
    assert list(private_tmp.iterdir()) == []
