"""Invariant sweep: every fault kind x every protocol (and provider-specific shape) x streaming x tool mode,
through the real agent loop (``run_agent`` over ``EmulatorTransport`` + ``FaultTransport`` on a
``VirtualClock``), once as a single faulted call and once as a fault that never stops, on every route.

For every cell:

- nothing raises; every tool call id has exactly one result (checked here, not by the runtime's own check);
- ``calls == successes + errors`` in the summary and per route, and ``calls`` equals the number of requests
  the transport actually saw (nothing lost, nothing invented); the telemetry file has one line per call;
- the run directory is complete and readable: every file of the run directory (docs/design.md) exists and parses, one
  request and one raw excerpt per call, one error file per failed call, metrics equal to the run's;
- outcome, error category, retries, fallbacks and overrides are the ones the default recovery policy implies
  for the category the fault is classified as. Both tables below are written from the documented
  contract (docs/design.md: error categories, recovery policy, fault catalog), not derived from the
  code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_helpers import pairing_problems, read_run_dir

from agent_runtime.clock import VirtualClock
from agent_runtime.config import parse_agent_config
from agent_runtime.providers import parse_route
from agent_runtime.runner import run_agent
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.faults.catalog import FAULT_KINDS, FaultSpec
from pytest_kylecode.faults.rewrite import OBJECT_ARGUMENTS
from pytest_kylecode.faults.transport import FaultTransport

# One provider per protocol, plus every provider whose faults have a shape of their own.
PROVIDERS = (
    "openai/gpt-4o-mini",  # openai_chat
    "anthropic/claude-sonnet-4-5",  # anthropic_messages
    "openai-responses/gpt-4.1",  # openai_responses
    "openrouter/z-ai/glm-4.6",  # JSON 502/503 with Retry-After, 404 "No endpoints found that support tool use"
    "groq/llama-3.3-70b-versatile",  # `event: error` inside the stream
    "moonshot-anthropic/kimi-k2",  # Kimi: Anthropic protocol, Bearer auth
    "deepseek/deepseek-chat",  # its own context-length body
    "zai/glm-4.6",  # context length as code 1261
)
FAILOVER = "mistral/mistral-large-latest"  # a provider without special shapes, on the chat protocol

SCRIPT = parse_script(
    [
        {"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]},
        {
            "text": "Writing the notes.",
            "tool_calls": [{"name": "write_file", "arguments": {"path": "notes.txt", "content": "hi\n"}}],
        },
        {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "notes written"}}]},
    ]
)

# The category one faulted call is classified as (docs/design.md, error categories and fault catalog).
# None: the fault is no transport error (the response is fine, or its tool calls are what is wrong).
CATEGORY: dict[str, str | None] = {
    "none": None,
    "http_400": "bad_request",
    "http_401": "auth",
    "http_404": "not_found",
    "http_429": "rate_limit",
    "http_500": "server_error",
    "http_502": "html_response",  # an HTML gateway page...
    "http_503": "server_error",
    "http_529": "overloaded",
    "html_200": "html_response",
    "html_502": "html_response",
    "invalid_json": "invalid_json",
    "empty_response": "empty_response",
    "connect_error": "connection",
    "timeout": "timeout",
    "stall": "timeout",  # the idle timeout trips mid-stream
    "truncated_stream": "stream_truncated",
    "sse_error": "stream_error",
    "malformed_sse": "invalid_json",
    "malformed_tool_args": None,  # an error tool result, not a transport error
    "duplicate_tool_args": None,  # the re-sent arguments are recognised
    "missing_tool_call_id": None,  # the loop synthesizes an id
    "tools_unsupported": "tools_unsupported",
    "context_length": "context_length",
    "content_filter": "content_filter",
    "latency": None,  # 1 s before the first byte is below every timeout
}
# Providers whose wire shape says something else.
PROVIDER_CATEGORY: dict[tuple[str, str], str] = {
    ("openrouter", "http_502"): "server_error",  # OpenRouter answers 502 as JSON {code: 502}
    ("anthropic", "sse_error"): "overloaded",  # Anthropic's in-stream error is overloaded_error
    ("moonshot-anthropic", "sse_error"): "overloaded",
}
# The default recovery policy (docs/design.md): category -> (action, retries before `then`, then).
POLICY: dict[str, tuple[str, int, str | None]] = {
    "rate_limit": ("retry", 3, "fallback"),
    "overloaded": ("retry", 2, "fallback"),
    **{
        c: ("retry", 1, "fallback")
        for c in (
            "server_error",
            "invalid_json",
            "empty_response",
            "timeout",
            "connection",
            "stream_truncated",
            "stream_error",
        )
    },
    "html_response": ("fallback", 0, None),
    "tools_unsupported": ("override_tools", 0, "retry"),
    **{c: ("fail", 0, None) for c in ("auth", "bad_request", "not_found", "context_length", "content_filter")},
}


# The default policy: a route's circuit opens after 3 consecutive failures, and an open circuit takes
# no call, so a retry budget above 3 is cut there. Failures that prove the route is unhealthy count; an
# answer that refuses the request (400, 401, 404, context length, tools) proves it answered.
CIRCUIT_THRESHOLD = 3
HEALTH_FAILURES = frozenset(c for c, (action, _, _) in POLICY.items() if action in ("retry", "fallback"))


def category_of(kind: str, route: str) -> str | None:
    return PROVIDER_CATEGORY.get((route.split("/", 1)[0], kind), CATEGORY[kind])


def test_the_tables_cover_the_catalog_and_every_category_has_a_rule() -> None:
    assert set(CATEGORY) == set(FAULT_KINDS)
    assert {c for c in CATEGORY.values() if c} | set(dict(PROVIDER_CATEGORY).values()) <= set(POLICY)


class Counting(httpx.BaseTransport):
    """Counts every request the client sends, the ones that end in a transport error included."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.inner.handle_request(request)


def run_cell(route: str, fault: FaultSpec, streaming: bool, tool_mode: str, tmp: Path) -> tuple[Any, int, Path]:
    clock = VirtualClock()
    config = parse_agent_config({"route": route, "failover": [FAILOVER], "max_steps": 8}).with_overrides(
        streaming=streaming, tool_mode=tool_mode
    )
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / "README.md").write_text("# demo\n", encoding="utf-8")
    env = {"KYLECODE_TELEMETRY_PATH": str(tmp / "telemetry.jsonl")}
    counting = Counting(
        FaultTransport(
            EmulatorTransport(SCRIPT, clock=clock), fault, primary=route, clock=clock, timeouts=config.timeouts
        )
    )
    with httpx.Client(transport=counting) as http:
        result = run_agent(config, "List, write notes.txt, finish.", workspace, http=http, clock=clock, env=env)
    assert result.runlog is not None
    run_dir = result.runlog.write(tmp / "runs", "sweep", f"{route}-{fault.id}", env=env)
    return result, counting.requests, run_dir


def invariant_problems(result: Any, requests: int, run_dir: Path, tmp: Path) -> list[str]:
    problems = pairing_problems(result.conversation)
    m = result.metrics
    s = m["summary"]
    if s["calls"] != s["successes"] + s["errors"]:
        problems.append(f"summary: calls {s['calls']} != successes {s['successes']} + errors {s['errors']}")
    if s["calls"] != requests:
        problems.append(f"summary counts {s['calls']} calls, the transport saw {requests} requests")
    for name, r in m["routes"].items():
        if r["calls"] != r["successes"] + sum(r["errors"].values()):
            problems.append(f"route {name}: calls {r['calls']} != successes {r['successes']} + errors {r['errors']}")
    if sum(r["calls"] for r in m["routes"].values()) != s["calls"]:
        problems.append("per-route calls do not add up to the summary")
    telemetry = (
        [json.loads(line) for line in (tmp / "telemetry.jsonl").read_text().splitlines()]
        if (tmp / "telemetry.jsonl").exists()
        else []
    )
    if len(telemetry) != s["calls"]:
        problems.append(f"telemetry has {len(telemetry)} spans for {s['calls']} calls")
    try:
        files = read_run_dir(run_dir)
    except (OSError, ValueError) as exc:
        return [*problems, f"run directory incomplete or unreadable: {exc}"]
    if len(files["requests"]) != s["calls"] or len(files["raw"]) != s["calls"]:
        problems.append(
            f"run dir: {len(files['requests'])} requests, {len(files['raw'])} raw excerpts for {s['calls']} calls"
        )
    if len(files["errors"]) != s["errors"]:
        problems.append(f"run dir: {len(files['errors'])} error files for {s['errors']} failed calls")
    if files["metrics"] != m:
        problems.append("run dir: provider_metrics.json differs from the run's metrics")
    if len(files["telemetry"]) != s["calls"]:
        problems.append("run dir: telemetry.jsonl does not have one span per call")
    if files["run"].get("outcome") != result.outcome:
        problems.append(f"run dir: run.json outcome {files['run'].get('outcome')!r}")
    for mark, count in (("[retry]", s["retries"]), ("[fallback]", s["fallbacks"])):
        if (mark in files["conversation"]) != bool(count):
            problems.append(f"conversation.md: {mark} shown {mark in files['conversation']}, count {count}")
    return problems


def cut_not_broken(kind: str, route: str, streaming: bool, tool_mode: str) -> bool:
    """``malformed_tool_args`` where the wire holds arguments as an object (non-streamed Anthropic
    Messages): the call arrives valid with its strings cut, so it runs; no tool error, no loop guard."""
    protocol = parse_route(route).protocol
    return kind == "malformed_tool_args" and tool_mode == "native" and (protocol, streaming) in OBJECT_ARGUMENTS


def expected_single(kind: str, route: str) -> dict[str, Any]:
    """One faulted call (the first one, on the primary): what the policy makes of it."""
    category = category_of(kind, route)
    if category is None:
        errors: dict[str, int] = {}
        return {
            "outcome": "completed",
            "error_category": None,
            "retries": 0,
            "fallbacks": 0,
            "tool_overrides": 0,
            "primary_errors": errors,
            "calls": 3,
            "tool_errors": 1 if kind == "malformed_tool_args" else 0,
        }
    action = POLICY[category][0]
    if action == "fail":
        return {
            "outcome": "failed",
            "error_category": category,
            "retries": 0,
            "fallbacks": 0,
            "tool_overrides": 0,
            "primary_errors": {category: 1},
            "calls": 1,
            "tool_errors": 0,
        }
    return {
        "outcome": "completed",
        "error_category": None,
        "retries": int(action == "retry"),
        "fallbacks": int(action == "fallback"),
        "tool_overrides": int(action == "override_tools"),
        "primary_errors": {category: 1},
        "calls": 4,
        "tool_errors": 0,
    }


def _calls_until_left(category: str) -> int:
    """Calls one route takes for a fault that never stops, before the policy moves on or fails."""
    action, retries, _ = POLICY[category]
    calls = {"retry": 1 + retries, "fallback": 1, "override_tools": 2, "fail": 1}[action]
    return min(calls, CIRCUIT_THRESHOLD) if category in HEALTH_FAILURES else calls


def expected_persistent(kind: str, route: str) -> dict[str, Any]:
    """The fault on every call of every route: the policy is exhausted on the primary, then on the failover,
    and the run fails with the last error's category (docs/design.md, recovery policy)."""
    category = category_of(kind, route)
    if category is None:
        if kind == "malformed_tool_args":  # every call malformed: only the loop guard stops it
            return {"outcome": "loop_guard", "error_category": "malformed_tool_call"}
        return {"outcome": "completed", "error_category": None, "calls": 3, "retries": 0, "fallbacks": 0}
    if POLICY[category][0] == "fail":
        return {"outcome": "failed", "error_category": category, "calls": 1, "retries": 0, "fallbacks": 0}
    last = category_of(kind, FAILOVER)
    assert last is not None
    primary, failover = _calls_until_left(category), _calls_until_left(last)
    if POLICY[last][0] == "fail":
        return {"outcome": "failed", "error_category": last, "calls": primary + failover}
    return {
        "outcome": "failed",
        "error_category": last,
        "calls": primary + failover,
        "retries": (primary - 1 if POLICY[category][0] == "retry" else 0)
        + (failover - 1 if POLICY[last][0] == "retry" else 0),
        "fallbacks": 1,
    }


MODES = [(s, t) for s in (True, False) for t in ("native", "text")]


def _cells(kind: str) -> list[tuple[bool, str]]:
    return [(s, t) for s, t in MODES if FaultSpec(kind=kind).applies_to(streaming=s, tool_mode=t)]


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("route", PROVIDERS)
def test_single_fault(route: str, kind: str, tmp_path: Path) -> None:
    problems: list[str] = []
    for streaming, tool_mode in _cells(kind):
        cell = f"{'stream' if streaming else 'nostream'}-{tool_mode}"
        tmp = tmp_path / cell
        tmp.mkdir()
        result, requests, run_dir = run_cell(route, FaultSpec(kind=kind), streaming, tool_mode, tmp)
        want = dict(expected_single(kind, route))
        if cut_not_broken(kind, route, streaming, tool_mode):
            want["tool_errors"] = 0
        m, s = result.metrics, result.metrics["summary"]
        got = {
            "outcome": result.outcome,
            "error_category": result.error_category,
            "retries": s["retries"],
            "fallbacks": s["fallbacks"],
            "tool_overrides": s["tool_overrides"],
            "primary_errors": m["routes"][route]["errors"],
            "calls": s["calls"],
            "tool_errors": result.tool_errors,
        }
        if want["calls"] == 4:  # one failed call plus the three the script needs
            got["calls"] = s["calls"]
        problems += [f"{cell}: {p}" for p in invariant_problems(result, requests, run_dir, tmp)]
        problems += [
            f"{cell}: {key}: expected {want[key]!r}, got {got[key]!r}" for key in want if got[key] != want[key]
        ]
        if result.outcome == "completed":
            if result.final_route != route or result.steps != 3:
                problems.append(f"{cell}: final route {result.final_route}, steps {result.steps}")
            if (tmp / "ws" / "notes.txt").read_text() != "hi\n":
                problems.append(f"{cell}: notes.txt not written")
            if want["fallbacks"] and m["routes"].get(FAILOVER, {}).get("successes") != 1:
                problems.append(f"{cell}: the failover route did not answer the faulted turn")
        elif (tmp / "ws" / "notes.txt").exists():
            problems.append(f"{cell}: a failed run wrote notes.txt")
    assert not problems, f"{route} x {kind}:\n" + "\n".join(problems)


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "none"])
@pytest.mark.parametrize("route", PROVIDERS)
def test_persistent_fault_on_every_route(route: str, kind: str, tmp_path: Path) -> None:
    fault = FaultSpec(kind=kind, times=99, route="any")
    problems: list[str] = []
    for streaming, tool_mode in _cells(kind):
        cell = f"{'stream' if streaming else 'nostream'}-{tool_mode}"
        tmp = tmp_path / cell
        tmp.mkdir()
        result, requests, run_dir = run_cell(route, fault, streaming, tool_mode, tmp)
        if cut_not_broken(kind, route, streaming, tool_mode):
            want = {"outcome": "completed", "error_category": None, "calls": 3, "retries": 0, "fallbacks": 0}
        else:
            want = expected_persistent(kind, route)
        s = result.metrics["summary"]
        got = {
            "outcome": result.outcome,
            "error_category": result.error_category,
            "calls": s["calls"],
            "retries": s["retries"],
            "fallbacks": s["fallbacks"],
        }
        problems += [f"{cell}: {p}" for p in invariant_problems(result, requests, run_dir, tmp)]
        problems += [
            f"{cell}: {key}: expected {want[key]!r}, got {got[key]!r}" for key in want if got[key] != want[key]
        ]
        if result.outcome == "loop_guard" and result.tool_errors != result.steps:
            problems.append(f"{cell}: {result.tool_errors} tool errors in {result.steps} steps")
    assert not problems, f"{route} x {kind} (every call, every route):\n" + "\n".join(problems)
