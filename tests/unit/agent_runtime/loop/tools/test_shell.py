"""run_shell: working directory, output, timeout capping, and killing the whole process tree."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agent_runtime.config import RunShellConfig, ToolsConfig
from agent_runtime.loop.tools import ToolContext, default_registry
from agent_runtime.loop.tools.shell import MAX_OUTPUT_BYTES, effective_timeout
from agent_runtime.messages import ToolCall

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")


def shell(ws: Path, command: str, config: ToolsConfig = ToolsConfig(), **extra):
    ctx = ToolContext.for_workspace(ws, config)
    [outcome] = default_registry().execute([ToolCall("c1", "run_shell", {"command": command, **extra})], ctx)
    assert outcome.executed
    return outcome.result


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a non-reaping init counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def gone_soon(pid: int) -> bool:
    # SIGKILL is asynchronous: allow the kernel a moment to tear the process down.
    deadline = time.monotonic() + 3
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_exit_code_and_combined_output(tmp_path):
    result = shell(tmp_path, "echo out; echo err >&2; exit 3")
    assert not result.is_error  # the tool worked; the command failed
    assert result.content == "exit code: 3\nout\nerr"


def test_runs_in_the_workspace_and_hides_its_absolute_path(tmp_path):
    (tmp_path / "here.txt").write_text("")
    result = shell(tmp_path, "pwd; ls; cat nothing-here 2>&1 | sed 's/^/> /'")
    assert str(tmp_path) not in result.content
    assert result.content.startswith("exit code: 0\n.\nhere.txt\n> ")


def test_long_output_is_clipped_head_and_tail(tmp_path):
    result = shell(tmp_path, "printf 'HEAD'; head -c 100000 /dev/zero | tr '\\0' x; printf 'TAIL'")
    assert len(result.content) < MAX_OUTPUT_BYTES + 200
    assert result.content.startswith("exit code: 0\nHEAD")
    assert result.content.endswith("TAIL")
    assert f"[... {100008 - MAX_OUTPUT_BYTES} bytes of output omitted ...]" in result.content


def test_timeout_is_capped_by_config():
    ctx = ToolContext.for_workspace(".", ToolsConfig(run_shell=RunShellConfig(default_timeout_s=60, max_timeout_s=120)))
    assert effective_timeout(ctx, None) == 60
    assert effective_timeout(ctx, 5) == 5
    assert effective_timeout(ctx, 10_000) == 120
    small = ToolContext.for_workspace(".", ToolsConfig(run_shell=RunShellConfig(default_timeout_s=60, max_timeout_s=2)))
    assert effective_timeout(small, None) == 2


def test_timeout_kills_the_child_and_its_grandchildren(tmp_path):
    command = "sh -c 'sleep 30 & echo $! > grandchild.pid; sleep 30' & echo $! > child.pid; sleep 30"
    started = time.monotonic()
    result = shell(tmp_path, command, timeout_s=0.3)
    elapsed = time.monotonic() - started
    assert elapsed < 10, "run_shell waited for the command instead of timing out"
    assert result.is_error
    assert result.content.startswith("timed out after 0.3 s; the command and its children were killed")
    child = int((tmp_path / "child.pid").read_text())
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert gone_soon(child), "the child survived the timeout"
    assert gone_soon(grandchild), "the grandchild survived the timeout"


def test_background_jobs_do_not_outlive_the_call(tmp_path):
    started = time.monotonic()
    result = shell(tmp_path, "sleep 30 & echo $! > bg.pid; echo started")
    assert time.monotonic() - started < 10, "a background job held the call open"
    assert result.content == "exit code: 0\nstarted"
    assert gone_soon(int((tmp_path / "bg.pid").read_text()))
