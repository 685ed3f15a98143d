"""The tool registry: argument validation, malformed and failing calls, and the concurrency of non-blocking calls."""

from __future__ import annotations

import threading

import pytest

from agent_runtime.config import ToolsConfig
from agent_runtime.loop.tools import (
    LIST_DIR,
    WORKSPACE_TOOLS,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    default_registry,
)
from agent_runtime.messages import ToolCall, ToolSpec


def run(ws, name, **arguments):
    ctx = ToolContext.for_workspace(ws)
    [outcome] = default_registry().execute([ToolCall("c1", name, arguments)], ctx)
    return outcome


@pytest.mark.parametrize(
    "name, arguments, fragment",
    [
        ("read_file", {}, "missing required argument 'path'"),
        ("read_file", {"path": 3}, "argument 'path' must be a string, got 3"),
        ("write_file", {"path": "a"}, "missing required argument 'content'"),
        ("list_dir", {"path": ".", "recursive": True}, "unexpected argument 'recursive' (expected: path)"),
        ("run_shell", {"command": "true", "timeout_s": 0}, "argument 'timeout_s' must be > 0, got 0"),
        ("run_shell", {"command": ""}, "argument 'command' must have at least 1 character, got ''"),
    ],
)
def test_schema_violations_are_malformed_and_not_executed(tmp_path, name, arguments, fragment):
    out = run(tmp_path, name, **arguments)
    assert out.malformed and not out.executed and out.result.is_error
    assert out.result.content.startswith(f"malformed tool call: invalid arguments for {name}: ")
    assert fragment in out.result.content
    assert list(tmp_path.iterdir()) == []


def test_unknown_tool_and_parse_error_are_malformed(tmp_path):
    ctx = ToolContext.for_workspace(tmp_path)
    calls = [ToolCall("a", "rm_rf", {}), ToolCall("b", "read_file", {}, "{oops", "invalid JSON arguments")]
    unknown, broken = default_registry().execute(calls, ctx)
    assert unknown.malformed and "unknown tool 'rm_rf'" in unknown.result.content
    assert "list_dir" in unknown.result.content
    assert broken.malformed and broken.result.content == "malformed tool call: invalid JSON arguments"


def test_tool_exceptions_become_error_results(tmp_path):
    def boom(ctx, args):
        raise RuntimeError(f"broke in {ctx.root}")

    def refuse(ctx, args):
        raise ToolError("nope")

    spec = ToolSpec("boom", "", {"type": "object"})
    registry = ToolRegistry([Tool(spec, boom), Tool(ToolSpec("refuse", "", {"type": "object"}), refuse)])
    ctx = ToolContext.for_workspace(tmp_path)
    a, b = registry.execute([ToolCall("1", "boom", {}), ToolCall("2", "refuse", {})], ctx)
    assert a.executed and a.result.is_error and a.result.content == "boom failed: RuntimeError: broke in ."
    assert b.result.content == "nope" and b.result.is_error


def test_validators_are_built_once(tmp_path, monkeypatch):
    import agent_runtime.loop.tools.registry as registry_module

    default_registry()  # built with the process-wide tools

    def forbidden(schema):
        raise AssertionError("validator rebuilt")

    monkeypatch.setattr(registry_module, "_build_validator", forbidden)
    ctx = ToolContext.for_workspace(tmp_path)
    for _ in range(3):
        default_registry().execute([ToolCall("c", "list_dir", {"path": "."})], ctx)
    ToolRegistry(WORKSPACE_TOOLS)  # a new registry of the same tools reuses their validators


def test_duplicate_tool_names_are_rejected():
    with pytest.raises(ValueError, match="duplicate tool name 'list_dir'"):
        ToolRegistry([LIST_DIR, LIST_DIR])


def _probe_tools(log, barrier=None):
    def slow_read(ctx, args):
        log.append(("start", args["k"], threading.current_thread().name))
        if barrier is not None:
            barrier.wait(timeout=5)  # proves the reads overlap: each waits for the others
        log.append(("end", args["k"]))
        return f"read {args['k']}"

    def write(ctx, args):
        log.append(("write", args["k"], threading.current_thread().name))
        return f"wrote {args['k']}"

    schema = {"type": "object", "properties": {"k": {"type": "string"}}}
    return ToolRegistry(
        [Tool(ToolSpec("r", "", schema), slow_read, blocking=False), Tool(ToolSpec("w", "", schema), write)]
    )


def test_non_blocking_calls_run_concurrently_and_results_keep_call_order(tmp_path):
    log: list = []
    registry = _probe_tools(log, threading.Barrier(3))
    ctx = ToolContext.for_workspace(tmp_path, ToolsConfig(max_parallel=4))
    calls = [ToolCall(str(i), "r", {"k": k}) for i, k in enumerate("abc")] + [ToolCall("w", "w", {"k": "z"})]
    outcomes = registry.execute(calls, ctx)
    assert [o.result.content for o in outcomes] == ["read a", "read b", "read c", "wrote z"]
    assert [o.result.call_id for o in outcomes] == ["0", "1", "2", "w"]
    # The blocking write ran after every read had finished, on the calling thread.
    assert log[-1] == ("write", "z", threading.current_thread().name)
    assert {e[1] for e in log if e[0] == "end"} == {"a", "b", "c"}


def test_blocking_call_splits_parallel_groups(tmp_path):
    log: list = []
    registry = _probe_tools(log)
    ctx = ToolContext.for_workspace(tmp_path, ToolsConfig(max_parallel=4))
    calls = [ToolCall("1", "r", {"k": "a"}), ToolCall("2", "w", {"k": "x"}), ToolCall("3", "r", {"k": "b"})]
    registry.execute(calls, ctx)
    assert [e[:2] for e in log] == [("start", "a"), ("end", "a"), ("write", "x"), ("start", "b"), ("end", "b")]
    # A lone non-blocking call runs on the calling thread: no thread is spun for one call.
    assert all(e[2] == threading.current_thread().name for e in log if len(e) == 3)


def test_max_parallel_one_runs_sequentially_without_threads(tmp_path):
    log: list = []
    registry = _probe_tools(log)
    ctx = ToolContext.for_workspace(tmp_path, ToolsConfig(max_parallel=1))
    registry.execute([ToolCall(str(i), "r", {"k": k}) for i, k in enumerate("abc")], ctx)
    assert [e[:2] for e in log if e[0] == "start"] == [("start", "a"), ("start", "b"), ("start", "c")]
    assert {e[2] for e in log if e[0] == "start"} == {threading.current_thread().name}


def test_max_parallel_bounds_calls_in_flight(tmp_path, monkeypatch):
    """A deterministic pool: futures complete only when the registry waits for them."""
    from concurrent.futures import Future

    import agent_runtime.loop.tools.registry as registry_module

    class StepPool:
        def __init__(self):
            self.queue = []
            self.most_in_flight = 0

        def submit(self, fn, *args):
            future = Future()
            self.queue.append((future, fn, args))
            self.most_in_flight = max(self.most_in_flight, len(self.queue))
            return future

    pool = StepPool()

    def step(futures, return_when):
        future, fn, args = pool.queue.pop(0)
        future.set_result(fn(*args))
        return {future}, set()

    monkeypatch.setattr(registry_module, "_pool", lambda: pool)
    monkeypatch.setattr(registry_module, "wait", step)
    log: list = []
    registry = _probe_tools(log)
    ctx = ToolContext.for_workspace(tmp_path, ToolsConfig(max_parallel=2))
    outcomes = registry.execute([ToolCall(str(i), "r", {"k": k}) for i, k in enumerate("abcde")], ctx)
    assert pool.most_in_flight == 2
    assert [o.result.content for o in outcomes] == [f"read {k}" for k in "abcde"]
