"""Confinement: the workspace tools, ``run_shell``, vendor bundles, YAML loading and templates.

- ``list_dir``, ``read_file`` and ``write_file`` refuse ``..``, absolute paths, symlinks that escape (files,
  directories, dangling links, loops) and paths under a symlinked parent directory — as error results,
  through the registry the agent uses, without reading, listing or writing a byte outside the workspace;
- ``run_shell`` is killed at its timeout with its children and grandchildren, and a grandchild that keeps
  the output open cannot hold the call past the timeout; sandboxed, it has no network, writes only
  the workspace (and a private ``/tmp``), and a grandchild that calls ``setsid`` dies with it too;
- ``kylecode bundle`` refuses symlinks (file, directory, the run directory itself) and writes nothing from
  outside the run directory;
- only safe YAML loading: no unsafe loader anywhere in the product (AST scan), and a ``!!python/...`` tag
  is refused — never executed — in scenarios, cassettes (ours and vcrpy's), agent configs and ``emulate``;
- no user-supplied text is ever compiled as a Jinja2 template (there is no path that takes a user template),
  and the product's only Jinja2 environment loads the package's own templates.
"""

from __future__ import annotations

import ast
import os
import select
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.config import RunShellConfig, ToolsConfig
from agent_runtime.loop.tools import ToolContext, default_registry
from agent_runtime.loop.tools.shell import sandbox_in_use
from agent_runtime.messages import ToolCall

ROOT = Path(__file__).resolve().parents[2]
SECRET = "OUTSIDE-THE-WORKSPACE-9f3c"


@pytest.fixture
def box(tmp_path: Path) -> dict[str, Path]:
    """A workspace next to an outside directory holding a secret, with every kind of escaping link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (outside / "sub").mkdir()
    (outside / "sub" / "deep.txt").write_text(SECRET, encoding="utf-8")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "inside.txt").write_text("inside\n", encoding="utf-8")
    (ws / "dir").mkdir()
    (ws / "file_link").symlink_to(outside / "secret.txt")  # a file link that escapes
    (ws / "dir_link").symlink_to(outside)  # a directory link that escapes
    (ws / "dir" / "up_link").symlink_to("../../outside")  # relative, from a subdirectory
    (ws / "dangling").symlink_to(outside / "created_through_link.txt")  # target does not exist yet
    (ws / "loop_a").symlink_to(ws / "loop_b")
    (ws / "loop_b").symlink_to(ws / "loop_a")
    (ws / "ok_link").symlink_to(ws / "inside.txt")  # stays inside: allowed
    return {"ws": ws, "outside": outside}


def _run(ws: Path, name: str, **arguments: Any) -> tuple[bool, str]:
    call = ToolCall("call_1", name, arguments)
    [outcome] = default_registry().execute([call], ToolContext.for_workspace(ws, ToolsConfig()))
    return outcome.result.is_error, outcome.result.content


def _outside_untouched(outside: Path) -> None:
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == [
        "secret.txt",
        "sub",
        "sub/deep.txt",
    ]
    assert (outside / "secret.txt").read_text() == SECRET and (outside / "sub" / "deep.txt").read_text() == SECRET


ESCAPES = [
    "../outside/secret.txt",
    "dir/../../outside/secret.txt",
    "./../outside/secret.txt",
    "..",
    "../",
    "dir/../..",
    "file_link",
    "dir_link/secret.txt",
    "dir_link/sub/deep.txt",
    "dir/up_link/secret.txt",
    "dir_link",
    "dir/up_link",
    "dangling",
    "loop_a",
    "dir_link/new.txt",
    "dir/up_link/sub/new.txt",
]
ABSOLUTE = ["/etc/passwd", "/tmp", "\\\\server\\share\\x", "\\windows\\x"]


@pytest.mark.parametrize("path", ESCAPES + ABSOLUTE + ["<abs-outside>", "<abs-inside>"])
@pytest.mark.parametrize("tool", ["read_file", "write_file", "list_dir"])
def test_workspace_tools_refuse_every_escape(box: dict[str, Path], tool: str, path: str) -> None:
    ws, outside = box["ws"], box["outside"]
    path = {"<abs-outside>": str(outside / "secret.txt"), "<abs-inside>": str(ws / "inside.txt")}.get(path, path)
    arguments: dict[str, Any] = {"path": path}
    if tool == "write_file":
        arguments["content"] = "written by the agent"
    is_error, content = _run(ws, tool, **arguments)
    assert is_error, f"{tool}({path!r}) was allowed: {content!r}"
    assert SECRET not in content
    resolved = content.replace(repr(path), "")  # echoing the path the model gave is fine; resolving it is not
    assert "deep.txt" not in resolved and str(outside) not in resolved and str(ws) not in resolved
    _outside_untouched(outside)


@pytest.mark.parametrize("tool", ["read_file", "write_file", "list_dir"])
def test_paths_that_stay_inside_still_work(box: dict[str, Path], tool: str) -> None:
    ws = box["ws"]
    arguments: dict[str, Any] = {"path": {"list_dir": "dir/..", "read_file": "ok_link"}.get(tool, "dir/new.txt")}
    if tool == "write_file":
        arguments["content"] = "fine"
    is_error, content = _run(ws, tool, **arguments)
    assert not is_error, content
    if tool == "list_dir":  # names only: the listing does not follow links out of the workspace
        assert content.splitlines() == sorted(content.splitlines()) and "secret.txt" not in content
    _outside_untouched(box["outside"])


def test_invalid_path_values_are_refused(box: dict[str, Path]) -> None:
    for path in ("a\x00b", "dir/\x00"):
        assert _run(box["ws"], "read_file", path=path)[0]


# -- run_shell ---------------------------------------------------------------------------------------------


def _gone(pid: int, within: float = 5.0) -> bool:
    """True when ``pid`` has exited (or is a zombie): waits on a pidfd, no polling, no sleeping."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], within)
        return bool(ready)
    finally:
        os.close(fd)


def _shell(ws: Path, command: str, timeout_s: float, *, sandbox: bool | None = None) -> tuple[bool, str, float]:
    config = ToolsConfig(run_shell=RunShellConfig(sandbox=sandbox))
    call = ToolCall("c", "run_shell", {"command": command, "timeout_s": timeout_s})
    started = time.monotonic()
    [outcome] = default_registry().execute([call], ToolContext.for_workspace(ws, config))
    return outcome.result.is_error, outcome.result.content, time.monotonic() - started


def test_run_shell_timeout_kills_the_command_its_child_and_grandchild(tmp_path: Path) -> None:
    # The shell starts a child shell that starts a grandchild; both write their pids and wait forever.
    command = "sh -c 'sleep 300 & echo $! > grandchild.pid; wait' & echo $! > child.pid; echo started; wait"
    is_error, content, elapsed = _shell(tmp_path, command, 0.5)
    assert is_error and "timed out after 0.5 s" in content and "started" in content
    assert elapsed < 5, f"the call took {elapsed:.1f} s for a 0.5 s timeout"
    for name in ("child.pid", "grandchild.pid"):
        pid = int((tmp_path / name).read_text())
        assert _gone(pid), f"{name} {pid} survived the timeout"


def test_a_grandchild_holding_the_output_open_does_not_hold_the_call(tmp_path: Path) -> None:
    # Exits at once, leaving a background grandchild with stdout open: the call returns, the job is killed.
    is_error, content, elapsed = _shell(tmp_path, "(sleep 300; echo late) & echo $! > bg.pid; echo done", 0.8)
    assert not is_error and "exit code: 0" in content and "done" in content and "late" not in content
    assert elapsed < 5
    assert _gone(int((tmp_path / "bg.pid").read_text()))


def _needs_sandbox() -> None:
    if sandbox_in_use() is None:
        pytest.skip("neither bubblewrap (bwrap) nor unshare works on this machine: run_shell runs unsandboxed")


def test_a_grandchild_that_calls_setsid_is_killed_too(tmp_path: Path) -> None:
    """Leaving the process group (``setsid``) escapes a group kill, not the sandbox's process
    namespace: the escapee holds a FIFO open, and its end is seen from here without any pid."""
    _needs_sandbox()
    os.mkfifo(tmp_path / "alive")
    reader = os.open(tmp_path / "alive", os.O_RDONLY | os.O_NONBLOCK)
    try:
        command = "setsid sh -c 'exec 3>alive; : > ready; exec sleep 300' & while [ ! -e ready ]; do :; done"
        is_error, content, _ = _shell(tmp_path, command, 10, sandbox=True)
        assert not is_error and "exit code: 0" in content, content
        ready, _, _ = select.select([reader], [], [], 10)
        assert ready and os.read(reader, 1) == b"", "the setsid grandchild outlived its run_shell call"
    finally:
        os.close(reader)


def test_sandboxed_run_shell_has_no_network(tmp_path: Path) -> None:
    _needs_sandbox()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        # The base interpreter, not a virtualenv's: a checkout (and its venv) under /tmp is hidden by
        # the sandbox's private /tmp.
        python = Path(sys.base_prefix) / "bin" / "python3"
        connect = f"{python} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 5)\""
        _, sandboxed, _ = _shell(tmp_path, connect, 20, sandbox=True)
        _, unsandboxed, _ = _shell(tmp_path, connect, 20, sandbox=False)
    assert "exit code: 1" in sandboxed and "ConnectionRefusedError" in sandboxed, sandboxed
    assert "exit code: 0" in unsandboxed, unsandboxed


def test_sandboxed_run_shell_writes_only_the_workspace(tmp_path: Path) -> None:
    _needs_sandbox()
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "outside.txt"
    home = Path.home() / f".kylecode-sandbox-probe-{os.getpid()}"
    command = f"echo in > inside.txt; echo out > {outside}; echo home > {home}; ls -A /tmp > tmp.txt; echo done"
    is_error, content, _ = _shell(ws, command, 20, sandbox=True)
    try:
        assert not is_error and "done" in content, content
        assert (ws / "inside.txt").read_text() == "in\n"
        assert not outside.exists() and not home.exists()
        if sandbox_in_use() == "bwrap":  # a private /tmp: only the path down to the workspace is in it
            assert (ws / "tmp.txt").read_text().split() == [ws.relative_to("/tmp").parts[0]]
    finally:
        home.unlink(missing_ok=True)


# -- vendor bundles ------------------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20260101T000000000Z_demo_cell_abcd1234"
    for sub in ("meta/requests", "raw/responses", "errors", "conversation"):
        (run / sub).mkdir(parents=True)
    (run / "meta" / "run.json").write_text('{"outcome": "completed"}\n')
    (run / "meta" / "requests" / "turn_1_1.json").write_text('{"body": {}}\n')
    (run / "raw" / "responses" / "turn_1_1.txt").write_text("status: 200\n\nok\n")
    (run / "conversation" / "conversation.md").write_text("# Run\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "private.txt").write_text(SECRET)
    return run


def _bundle(run: Path, out: Path) -> tuple[int, str]:
    from pytest_kylecode.cli import main

    try:
        code = main(["bundle", str(run), "-o", str(out)])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    return code, ""


def _zip_text(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(name).decode("utf-8", "replace") for name in zf.namelist())


def test_a_clean_run_directory_bundles(run_dir: Path, tmp_path: Path) -> None:
    code, _ = _bundle(run_dir, tmp_path / "ok.zip")
    assert code == 0 and SECRET not in _zip_text(tmp_path / "ok.zip")


@pytest.mark.parametrize(
    "plant", ["file_link", "dir_link", "dir_link_top", "relative_link", "run_dir_link", "zip_inside", "inside_link"]
)
def test_bundle_refuses_symlinks_and_outside_files(
    run_dir: Path, tmp_path: Path, plant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "elsewhere" / "private.txt"
    target = run_dir
    out = tmp_path / "bundle.zip"
    if plant == "file_link":
        (run_dir / "meta" / "stolen.json").symlink_to(private)
    elif plant == "dir_link":
        (run_dir / "errors" / "more").symlink_to(private.parent, target_is_directory=True)
    elif plant == "dir_link_top":
        import shutil

        shutil.rmtree(run_dir / "errors")
        (run_dir / "errors").symlink_to(private.parent, target_is_directory=True)
    elif plant == "relative_link":
        (run_dir / "raw" / "responses" / "turn_9_9.txt").symlink_to("../../../../elsewhere/private.txt")
    elif plant == "run_dir_link":
        target = tmp_path / "link_to_run"
        target.symlink_to(run_dir, target_is_directory=True)
    elif plant == "zip_inside":
        out = run_dir / "bundle.zip"
    elif plant == "inside_link":  # even a link that stays inside: a bundle carries files, never links
        (run_dir / "meta" / "alias.json").symlink_to(run_dir / "meta" / "run.json")
    code, _ = _bundle(target, out)
    captured = capsys.readouterr()
    assert code != 0, f"bundle accepted a {plant}"
    assert not out.exists() and not list(out.parent.glob("*.partial"))
    message = captured.err + captured.out
    assert "refus" in message or "outside" in message, message
    assert "Traceback" not in message and SECRET not in message


# -- safe YAML ------------------------------------------------------------------------------------------------

_UNSAFE_NAMES = {"Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader"}
_UNSAFE_CALLS = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}


def _product_files() -> list[Path]:
    return sorted(p for top in ("agent_runtime", "pytest_kylecode") for p in (ROOT / top).rglob("*.py"))


def test_no_unsafe_yaml_loading_anywhere_in_the_product() -> None:
    """Every ``yaml.load``-family call names a safe loader: ``SafeLoader``/``CSafeLoader`` directly or a
    module constant built only from them. No unsafe loader class or helper is referenced at all."""
    problems = []
    for path in _product_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        safe_names = {
            t.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
            and "SafeLoader" in ast.unparse(node.value)
            and not any(n in ast.unparse(node.value).replace("SafeLoader", "") for n in ("Loader",))
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "yaml"
                and (node.attr in _UNSAFE_NAMES or node.attr in _UNSAFE_CALLS)
            ):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: yaml.{node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "yaml"
                and node.func.attr in ("load", "load_all")
            ):
                loader = next(
                    (k.value for k in node.keywords if k.arg == "Loader"), node.args[1] if len(node.args) > 1 else None
                )
                text = ast.unparse(loader) if loader is not None else ""
                if not (text in safe_names or text.endswith(("SafeLoader", "CSafeLoader"))):
                    problems.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: yaml.{node.func.attr} with Loader={text or '(none)'}"
                    )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _UNSAFE_NAMES:
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(...)")
    assert not problems, "unsafe YAML loading:\n" + "\n".join(problems)


def _payload(marker: Path) -> str:
    return f'!!python/object/apply:os.system ["touch {marker}"]'


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_python_tags_are_refused_in_scenarios(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED_SCENARIO"
    (tmp_path / "evil.yaml").write_text(
        f"name: evil\ntask: {_payload(marker)}\nscript: [{{text: hi}}]\nmatrix: {{provider: [openai/gpt-4o-mini]}}\n",
        encoding="utf-8",
    )
    result = _cli("scenarios", "validate", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and not marker.exists()
    assert "evil.yaml:2" in result.stdout and "python/object" in result.stdout and "Traceback" not in result.stderr


def test_python_tags_are_refused_in_agent_configs(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED_CONFIG"
    (tmp_path / "base.yaml").write_text(f"max_steps: {_payload(marker)}\n", encoding="utf-8")
    (tmp_path / "agent.yaml").write_text("extends: base.yaml\nroute: openai/gpt-4o-mini\n", encoding="utf-8")
    (tmp_path / "task.txt").write_text("hi", encoding="utf-8")
    result = _cli("run", "agent.yaml", "--task", "task.txt", cwd=tmp_path)
    assert result.returncode == 2 and not marker.exists()
    assert "base.yaml:1" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flavour", ["ours", "vcrpy"])
def test_python_tags_are_refused_in_cassettes(tmp_path: Path, flavour: str) -> None:
    marker = tmp_path / "PWNED_CASSETTE"
    body = "parsed_body: {}" if flavour == "ours" else "body: {string: ''}"
    (tmp_path / "c.yaml").write_text(
        f"version: 1\n{'kylecode: {}' if flavour == 'ours' else 'x: 1'}\ninteractions:\n"
        f"- request: {{method: POST, uri: {_payload(marker)}, headers: {{}}}}\n"
        f"  response: {{status: {{code: 200, message: OK}}, headers: {{}}, {body}}}\n",
        encoding="utf-8",
    )
    result = _cli("inspect", "c.yaml", cwd=tmp_path)
    assert result.returncode == 2 and not marker.exists()
    assert "c.yaml:4" in result.stderr and "Traceback" not in result.stderr
    from pytest_kylecode.cassettes import format as ours
    from pytest_kylecode.cassettes.vcr_reader import read_cassette
    from pytest_kylecode.failures import CassetteError

    for reader in (ours.load, read_cassette):
        with pytest.raises(CassetteError):
            reader(tmp_path / "c.yaml")
    assert not marker.exists()


def test_python_tags_are_refused_by_emulate(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED_EMULATE"
    (tmp_path / "s.yaml").write_text(f"script: [{{text: {_payload(marker)}}}]\n", encoding="utf-8")
    result = _cli("emulate", "--scenario", "s.yaml", "--port", "0", cwd=tmp_path)
    assert result.returncode != 0 and not marker.exists() and "Traceback" not in result.stderr


# -- templates ------------------------------------------------------------------------------------------------

TEMPLATE_BAITS = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}{{x}}{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ config }}",
    "{# comment #}",
]


def test_user_text_is_never_compiled_as_a_template(tmp_path: Path) -> None:
    """Task, system prompt, sentinels, tool names and descriptions reach the prompt verbatim."""
    from agent_runtime.config import AgentConfig, CompletionConfig
    from agent_runtime.dialect import prepare_request, render_system_prompt, render_tools_prompt
    from agent_runtime.messages import SystemMessage, ToolSpec, UserMessage

    bait = " | ".join(TEMPLATE_BAITS)
    prompt = render_system_prompt(finish_tool="mark_task_complete", sentinels=(bait,))
    tools = [ToolSpec("tool_" + "x", bait, {"type": "object", "description": bait})]
    rendered = render_tools_prompt(tools)
    request = prepare_request([SystemMessage(bait), UserMessage(bait)], tools, "text", stream=False, max_tokens=10)
    text = prompt + rendered + "".join(str(getattr(m, "content", "")) for m in request.messages)
    assert text.count("{{ 7*7 }}") >= 4 and "49" not in text and "0 1 2" not in text and "<class" not in text
    assert AgentConfig(completion=CompletionConfig(text_sentinels=(bait,))).completion.text_sentinels == (bait,)


def test_the_only_template_environment_loads_the_package_templates() -> None:
    uses = []
    for path in _product_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "jinja2":
                uses.append((path.relative_to(ROOT).as_posix(), node.attr))
            if isinstance(node, ast.Attribute) and node.attr in ("from_string", "FileSystemLoader", "Template"):
                uses.append((path.relative_to(ROOT).as_posix(), node.attr))
    assert set(uses) <= {
        ("agent_runtime/dialect/prompts.py", a) for a in ("Environment", "PackageLoader", "StrictUndefined", "Template")
    } | {  # kylecode init's workflow templates: package files through a PackageLoader, as the prompts
        ("pytest_kylecode/templates/__init__.py", a) for a in ("Environment", "PackageLoader", "StrictUndefined")
    }, uses
    assert ("agent_runtime/dialect/prompts.py", "from_string") not in uses and all(a != "from_string" for _, a in uses)
