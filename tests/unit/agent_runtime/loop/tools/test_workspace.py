"""The workspace tools: their specs, results and confinement to the workspace."""

from __future__ import annotations

import pytest

from agent_runtime.loop.tools import (
    LIST_DIR,
    READ_FILE,
    WORKSPACE_TOOLS,
    ToolContext,
    default_registry,
)
from agent_runtime.messages import ToolCall


@pytest.fixture
def sandbox(tmp_path):
    """A workspace inside a parent that also holds a file the tools must never touch."""
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret\n")
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "README.md").write_text("# demo\n")
    (ws / "src" / "fs.c").write_text("int main(void){return 0;}\n")
    return ws, outside


def run(ws, name, **arguments):
    ctx = ToolContext.for_workspace(ws)
    [outcome] = default_registry().execute([ToolCall("c1", name, arguments)], ctx)
    return outcome


def test_workspace_tool_specs_and_blocking_flags():
    assert [t.name for t in WORKSPACE_TOOLS] == [
        "list_dir",
        "read_file",
        "write_file",
        "run_shell",
        "mark_task_complete",
    ]
    assert {t.name: t.blocking for t in WORKSPACE_TOOLS} == {
        "list_dir": False,
        "read_file": False,
        "write_file": True,
        "run_shell": True,
        "mark_task_complete": True,
    }
    for tool in WORKSPACE_TOOLS:
        assert tool.spec.parameters["type"] == "object" and tool.spec.description


def test_list_dir_sorted_relative_with_dir_slash(sandbox):
    ws, _ = sandbox
    (ws / "b.txt").write_text("")
    (ws / "A.txt").write_text("")
    out = run(ws, "list_dir")
    assert not out.result.is_error
    assert out.result.content == "A.txt\nREADME.md\nb.txt\nsrc/"
    assert run(ws, "list_dir", path="src").result.content == "src/fs.c"
    assert run(ws, "list_dir", path="./src/").result.content == "src/fs.c"


def test_list_dir_of_missing_or_file_is_an_error(sandbox):
    ws, _ = sandbox
    assert run(ws, "list_dir", path="nope").result.content == "no such directory: nope"
    assert run(ws, "list_dir", path="README.md").result.content == "not a directory: README.md"


def test_read_and_write_files(sandbox):
    ws, _ = sandbox
    assert run(ws, "read_file", path="src/fs.c").result.content == "int main(void){return 0;}\n"
    out = run(ws, "write_file", path="new/dir/x.txt", content="héllo\r\n")
    assert out.result.content == "wrote 8 bytes to new/dir/x.txt"
    assert (ws / "new" / "dir" / "x.txt").read_bytes() == "héllo\r\n".encode()
    assert run(ws, "read_file", path="missing.txt").result.content == "no such file: missing.txt"
    assert run(ws, "write_file", path="src", content="x").result.content == "is a directory: src"


def test_read_file_truncates_large_files(sandbox):
    ws, _ = sandbox
    (ws / "big.txt").write_text("x" * 100_000)
    content = run(ws, "read_file", path="big.txt").result.content
    assert content.startswith("x" * 1000)
    assert content.endswith("[truncated: showed the first 65536 of 100000 bytes]")


@pytest.mark.parametrize("tool", ["read_file", "write_file", "list_dir"])
@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "ABSOLUTE"])
def test_escaping_paths_are_refused(sandbox, tool, path):
    ws, outside = sandbox
    if path == "ABSOLUTE":
        path = str(outside)
    args = {"path": path, "content": "pwned"} if tool == "write_file" else {"path": path}
    out = run(ws, tool, **args)
    assert out.result.is_error and out.executed
    assert "outside the workspace" in out.result.content or "absolute" in out.result.content
    assert "top secret" not in out.result.content
    assert str(ws) not in out.result.content
    assert outside.read_text() == "top secret\n"


def test_escaping_symlinks_are_refused(sandbox):
    ws, outside = sandbox
    (ws / "link.txt").symlink_to(outside)
    (ws / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    (ws / "dangling").symlink_to(outside.parent / "not-yet.txt")
    for tool, args in [
        ("read_file", {"path": "link.txt"}),
        ("write_file", {"path": "link.txt", "content": "pwned"}),
        ("list_dir", {"path": "linkdir"}),
        ("read_file", {"path": "linkdir/secret.txt"}),
        ("write_file", {"path": "linkdir/new.txt", "content": "pwned"}),
        ("write_file", {"path": "dangling", "content": "pwned"}),
    ]:
        out = run(ws, tool, **args)
        assert out.result.is_error, (tool, args)
        assert "outside the workspace" in out.result.content
    assert outside.read_text() == "top secret\n"
    assert sorted(p.name for p in outside.parent.iterdir()) == ["secret.txt", "ws"]


def test_symlink_inside_the_workspace_is_allowed(sandbox):
    ws, _ = sandbox
    (ws / "alias.c").symlink_to(ws / "src" / "fs.c")
    assert run(ws, "read_file", path="alias.c").result.content == "int main(void){return 0;}\n"


def test_results_never_carry_the_absolute_workspace_path(sandbox):
    ws, _ = sandbox
    out = run(ws, "read_file", path=str(ws / "README.md"))
    assert out.result.is_error
    assert str(ws) not in out.result.content


def test_read_tools_are_the_non_blocking_ones():
    assert not LIST_DIR.blocking and not READ_FILE.blocking
