"""Test doubles of the runtime's own tests: call records, a route caller that plays scripted
outcomes, and a run log full of canary secrets. Nothing here knows the plugin.

An outcome is ``"ok"``, a category name, ``(category, retry_after)``, or a callable
``(request) -> outcome``. Each route plays its list in order; the last outcome repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent_runtime.clock import VirtualClock
from agent_runtime.errors import ProviderError
from agent_runtime.messages import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
)
from agent_runtime.observe.metrics import Attempt, ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.providers import Route
from agent_runtime.wire.client import CallRecord

Outcome = str | tuple | Callable[[ModelRequest], Any]

STATUS = {
    "rate_limit": 429,
    "server_error": 500,
    "overloaded": 529,
    "auth": 401,
    "bad_request": 400,
    "not_found": 404,
    "tools_unsupported": 404,
    "html_response": 200,
    "context_length": 400,
}


def make_record(
    route: str,
    *,
    clock: VirtualClock,
    outcome: Outcome = "ok",
    stream: bool = False,
    latency_s: float = 0.05,
    request: ModelRequest | None = None,
    headers: dict[str, str] | None = None,
    body: dict | None = None,
    raw: bytes = b"",
) -> CallRecord:
    started = clock.now()
    clock.sleep(latency_s)
    record = CallRecord(
        route=route,
        url="https://api.example.test/v1/chat/completions",
        request_headers=headers if headers is not None else {"authorization": "Bearer sk-test-00000000000"},
        request_body=body if body is not None else {"model": route.split("/", 1)[1], "max_tokens": 64},
        stream=stream,
        started=started,
        latency_ms=latency_s * 1000.0,
        ttft_ms=latency_s * 500.0 if stream else None,
    )
    retry_after = None
    if isinstance(outcome, tuple):
        outcome, retry_after = outcome
    if outcome == "ok":
        record.status = 200
        record.raw = raw or b'{"ok": true}'
        record.response_headers = {"content-type": "application/json"}
        record.response = ModelResponse(
            text="fine",
            finish_reason="stop",
            raw_finish_reason="stop",
            usage=Usage(10, 5),
            model=route.split("/", 1)[1],
        )
    elif outcome == "tool":
        record.status = 200
        record.response = ModelResponse(
            tool_calls=[ToolCall("call_1", "mark_task_complete", {"summary": "done"})],
            finish_reason="tool_calls",
            usage=Usage(10, 5),
        )
    else:
        record.status = STATUS.get(outcome)
        record.raw = raw or (b"<html>bad gateway</html>" if outcome == "html_response" else b'{"error": {}}')
        record.response_headers = {"content-type": "text/html" if outcome == "html_response" else "application/json"}
        record.error = ProviderError(outcome, f"{outcome} from fake", status=record.status, retry_after=retry_after)
    return record


class FakeClient:
    """Implements ``ProviderClient.call`` from per-route scripts; keeps every request it got."""

    def __init__(self, script: dict[str, Sequence[Outcome]], clock: VirtualClock, latency_s: float = 0.05) -> None:
        self.script = {route: list(outcomes) for route, outcomes in script.items()}
        self.clock = clock
        self.latency_s = latency_s
        self.calls: list[tuple[str, ModelRequest]] = []

    def call(self, route: Route, request: ModelRequest) -> CallRecord:
        name = route.name
        self.calls.append((name, request))
        queue = self.script.get(name) or ["ok"]
        outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(outcome):
            outcome = outcome(request)
        return make_record(
            name, clock=self.clock, outcome=outcome, stream=request.stream, latency_s=self.latency_s, request=request
        )

    def routes_called(self) -> list[str]:
        return [name for name, _ in self.calls]


CANARY = "sk-ant-CANARY-0123456789abcdef"
ENV_CANARY = "canary-from-env-not-key-shaped"  # a value only the environment says is a key


def canary_runlog(clock=None):
    clock = clock or VirtualClock()
    log = RunLog()
    headers = {"x-api-key": CANARY, "authorization": f"Bearer {ENV_CANARY}", "content-type": "application/json"}
    body = {"model": "claude", "api_key": CANARY, "messages": [{"role": "user", "content": f"use {ENV_CANARY}"}]}
    html = f"<html><body>gateway error for key {CANARY}</body></html>".encode()
    failed = make_record("anthropic/claude", clock=clock, outcome="html_response", headers=headers, body=body, raw=html)
    failed.url = f"https://api.example.test/v1/messages?key={ENV_CANARY}"
    failed.error.message = f"invalid x-api-key {CANARY}"
    ok = make_record(
        "openai/gpt-4o", clock=clock, outcome="ok", headers=headers, body=body, raw=f'{{"echo": "{CANARY}"}}'.encode()
    )
    log.record_attempt(Attempt(failed, 1, 1))
    log.note(1, "anthropic/claude -> openai/gpt-4o (html_response)", "fallback")
    log.record_attempt(Attempt(ok, 1, 2, fallback=True))
    metrics = ProviderMetricsCollector()
    metrics.record_attempt(Attempt(failed, 1, 1))
    log.set_metrics(metrics.snapshot())
    log.set_probes({"routes": {"openai/gpt-4o": {"note": CANARY}}})
    log.set_info(outcome="completed", completion_reason="tool_finish", steps=1, config={"key": ENV_CANARY})
    log.set_conversation(
        [
            SystemMessage("sys"),
            UserMessage(f"task {CANARY}"),
            AssistantMessage(text="done", tool_calls=[ToolCall("c1", "mark_task_complete", {"summary": ENV_CANARY})]),
            ToolResult("c1", "mark_task_complete", "ok"),
        ]
    )
    return log
