"""``run_shell``: one shell command in the workspace, bounded in time and output.

The command runs through ``/bin/sh -c`` with the workspace as its working directory,
in a process group of its own. At the timeout the whole group is killed (the shell,
its children and their children); after a normal exit, leftovers of the group
(background jobs) are killed too, so a command never outlives its call. The timeout
is ``timeout_s`` when given, else ``tools.run_shell.default_timeout_s``, and never more
than ``tools.run_shell.max_timeout_s``.

Output (stdout and stderr interleaved) goes to a temporary file rather than a pipe: a
background grandchild holding a pipe open would otherwise block the read past the
shell's exit. It is cut to ``MAX_OUTPUT_BYTES`` (head and tail kept) and the absolute
workspace path is replaced by ``.``. A non-zero exit status is a normal result (the
tool worked; the command failed); a timeout is an error result.

With ``tools.run_shell.sandbox`` true the command runs in a sandbox, the first of these that
works on the machine (probed once per process by running ``true`` in it):

- ``bwrap`` (bubblewrap): no network, its own process tree, the whole file system read-only but
  the workspace, an empty private ``/tmp``;
- ``unshare``: no network and its own process tree only (the file system is as the user's).

Either way every process the command started dies with it: a process in a process namespace
cannot outlive the namespace's first process, whatever it did to its session (``setsid``) or
group. When neither works the command runs unsandboxed (``sandbox_in_use`` says which;
the harness reports it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Final, Literal

from agent_runtime.loop.tools.registry import Tool, ToolContext, ToolError
from agent_runtime.messages import JSONObject, ToolSpec

__all__ = ["RUN_SHELL", "Sandbox", "effective_timeout", "sandbox_in_use"]

MAX_OUTPUT_BYTES: Final = 16 * 1024

Sandbox = Literal["bwrap", "unshare"]
SANDBOXES: Final[tuple[Sandbox, ...]] = ("bwrap", "unshare")


def _sandbox_argv(kind: Sandbox, executable: str, root: Path, command: str) -> list[str]:
    """The command line that runs ``command`` through ``/bin/sh`` in the sandbox ``kind``."""
    if kind == "bwrap":
        workspace = os.fspath(root)
        return [
            executable,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            "--tmpfs", "/var/tmp",
            "--bind", workspace, workspace,  # after /tmp: a workspace under /tmp stays visible
            "--chdir", workspace,
            "--unshare-all",  # network, processes, IPC, host name; a user namespace where one is needed
            "--die-with-parent",
            "--new-session",
            "--setenv", "TMPDIR", "/tmp",
            "--", "/bin/sh", "-c", command,
        ]  # fmt: skip
    # A user namespace maps the caller to root inside it: creating the others needs no privilege.
    return [executable, "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child",
            "--", "/bin/sh", "-c", command]  # fmt: skip


@functools.cache
def sandbox_in_use() -> Sandbox | None:
    """The sandbox this machine lets ``run_shell`` use, or None (probed once per process)."""
    probe = Path(tempfile.gettempdir())
    for kind in SANDBOXES:
        executable = shutil.which(kind)
        if executable is None:
            continue
        try:
            done = subprocess.run(
                _sandbox_argv(kind, executable, probe, "true"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:  # installed is not enough: user namespaces may be forbidden
            return kind
    return None


def _command_line(ctx: ToolContext, command: str) -> str | list[str]:
    """What ``Popen`` runs: the shell command itself, or the sandbox around it."""
    kind = sandbox_in_use() if ctx.config.run_shell.sandbox else None
    executable = shutil.which(kind) if kind else None
    if kind is None or executable is None:
        return command
    return _sandbox_argv(kind, executable, ctx.root, command)


def effective_timeout(ctx: ToolContext, requested: float | None) -> float:
    """The timeout of one ``run_shell`` call: ``requested`` (schema-checked: a number) or the default, capped."""
    limits = ctx.config.run_shell
    timeout = limits.default_timeout_s if requested is None else float(requested)
    return min(timeout, limits.max_timeout_s)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, signal.SIGKILL)


def _run_shell(ctx: ToolContext, args: JSONObject) -> str:
    timeout = effective_timeout(ctx, args.get("timeout_s"))
    with tempfile.TemporaryFile() as out:
        try:
            argv = _command_line(ctx, args["command"])
            proc = subprocess.Popen(
                argv,
                shell=isinstance(argv, str),
                cwd=ctx.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and process group: killpg reaches every descendant
            )
        except OSError as exc:
            raise ToolError(f"cannot start the command: {exc.strerror}") from None
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # On timeout this kills the shell and every descendant; after a normal exit it kills
            # leftover background jobs (a group id is not reused while any member lives); and when
            # the run itself is interrupted (a harness time limit, Ctrl-C) nothing is left behind.
            _kill_group(proc.pid)
            proc.wait()
        out.seek(0)
        output = _clip(out.read())
    output = ctx.scrub(output)
    if timed_out:
        raise ToolError(f"timed out after {timeout:g} s; the command and its children were killed\n{output}".rstrip())
    return f"exit code: {proc.returncode}\n{output}".rstrip()


def _clip(data: bytes) -> str:
    if len(data) > MAX_OUTPUT_BYTES:
        half = MAX_OUTPUT_BYTES // 2
        cut = len(data) - 2 * half
        data = data[:half] + f"\n[... {cut} bytes of output omitted ...]\n".encode() + data[-half:]
    return data.decode("utf-8", errors="replace")


RUN_SHELL: Final = Tool(
    ToolSpec(
        "run_shell",
        "Run a shell command in the workspace root and return its exit code and combined output.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string", "minLength": 1, "description": "The command line, run by /bin/sh."},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "description": "Timeout in seconds."},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    ),
    _run_shell,
)
