"""WorkspacePool: a reused workspace always holds exactly the scenario's files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_kylecode.workspaces import REUSE_LIMIT_BYTES, WorkspacePool

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
