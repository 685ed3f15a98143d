"""Names that become paths, and paths that must stay under their root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runtime.paths import PathEscape, inside, name_problem


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        (".", "names a directory"),
        ("..", "names a directory"),
        ("a/b", "separator"),
        ("a\\b", "separator"),
        ("a\x00b", "NUL"),
        ("a\x1bb", "control character"),
        ("CON", "reserved on Windows"),
        ("nul.txt", "reserved on Windows"),
        ("lpt1", "reserved on Windows"),
        ("name.", "ends with a dot"),
        ("x" * 256, "256 bytes long"),
        ("é" * 128, "256 bytes long"),
    ],
)
def test_a_name_that_cannot_be_one_file_name_says_why(name: str, problem: str) -> None:
    assert problem in (name_problem(name) or "")


@pytest.mark.parametrize("name", ["gpt-4o-mini", "glm-4.6", "z-ai", "llama-3.1:free", "console", "x" * 255, ".env"])
def test_ordinary_names_pass(name: str) -> None:
    assert name_problem(name) is None


def test_a_route_shaped_path_stays_inside(tmp_path: Path) -> None:
    assert inside(tmp_path, "s", "openrouter", "z-ai", "glm-4.6", "stream-native-none.yaml") == (
        tmp_path / "s/openrouter/z-ai/glm-4.6/stream-native-none.yaml"
    )
    assert inside(tmp_path, Path("a/./b/../c")) == tmp_path / "a/./b/../c"  # resolves inside: kept as given


@pytest.mark.parametrize(
    "parts",
    [("s", "openai", "..", "..", "..", "tmp", "x"), ("/tmp/x",), ("a", "/etc"), ("a\x00b",)],
)
def test_a_path_that_leaves_its_root_is_refused(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(PathEscape):
        inside(tmp_path / "root", *parts)


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path, root / "out")
    with pytest.raises(PathEscape, match="outside"):
        inside(root, "out", "file.yaml")
    assert inside(root, "in", "file.yaml") == root / "in" / "file.yaml"


def test_a_root_reached_through_a_symlink_is_its_own_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert inside(tmp_path / "link", "a.yaml") == tmp_path / "link" / "a.yaml"


_WRITE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from agent_runtime.paths import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG) instead of the process dying
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    write_atomic(Path(sys.argv[1]), "new " * 1000)
except OSError as exc:
    print(exc.errno)
"""


def test_a_write_that_fails_half_way_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    import errno
    import subprocess
    import sys

    path = tmp_path / "cassette.yaml"
    path.write_text("old content\n")
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_UNDER_A_SIZE_LIMIT, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == str(errno.EFBIG), done.stderr
    assert path.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cassette.yaml"]


def test_write_atomic_creates_the_directory_and_names_its_temporary_files_recognisably(tmp_path: Path) -> None:
    from agent_runtime.paths import is_temporary, temporary_name, write_atomic

    path = tmp_path / "a" / "b.json"
    write_atomic(path, "{}\n")
    assert path.read_text() == "{}\n" and [p.name for p in path.parent.iterdir()] == ["b.json"]
    assert is_temporary(temporary_name(path).name)
    assert not is_temporary("b.json") and not is_temporary(".notes.tmp")
