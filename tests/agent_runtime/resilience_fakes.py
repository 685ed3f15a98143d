"""Test doubles for the resilience tests: a route caller that plays scripted outcomes.

An outcome is ``"ok"``, a category name, ``(category, retry_after)``, or a callable
``(request) -> outcome``. Each route plays its list in order; the last outcome repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

from agent_runtime.clock import VirtualClock
from agent_runtime.errors import ProviderError
from agent_runtime.messages import ModelRequest, ModelResponse, ToolCall, Usage
from agent_runtime.provider_client import CallRecord
from agent_runtime.providers import Route

Outcome = Union[str, tuple, Callable[[ModelRequest], Any]]

STATUS = {"rate_limit": 429, "server_error": 500, "overloaded": 529, "auth": 401, "bad_request": 400,
          "not_found": 404, "tools_unsupported": 404, "html_response": 200, "context_length": 400}


def make_record(route: str, *, clock: VirtualClock, outcome: Outcome = "ok", stream: bool = False,
                latency_s: float = 0.05, request: ModelRequest | None = None,
                headers: dict[str, str] | None = None, body: dict | None = None, raw: bytes = b"") -> CallRecord:
    started = clock.now()
    clock.sleep(latency_s)
    record = CallRecord(route=route, url="https://api.example.test/v1/chat/completions",
                        request_headers=headers if headers is not None else {"authorization": "Bearer sk-test-00000000000"},
                        request_body=body if body is not None else {"model": route.split("/", 1)[1], "max_tokens": 64},
                        stream=stream, started=started, latency_ms=latency_s * 1000.0,
                        ttft_ms=latency_s * 500.0 if stream else None)
    retry_after = None
    if isinstance(outcome, tuple):
        outcome, retry_after = outcome
    if outcome == "ok":
        record.status = 200
        record.raw = raw or b'{"ok": true}'
        record.response_headers = {"content-type": "application/json"}
        record.response = ModelResponse(text="fine", finish_reason="stop", raw_finish_reason="stop",
                                        usage=Usage(10, 5), model=route.split("/", 1)[1])
    elif outcome == "tool":
        record.status = 200
        record.response = ModelResponse(
            tool_calls=[ToolCall("call_1", "mark_task_complete", {"summary": "done"})],
            finish_reason="tool_calls", usage=Usage(10, 5))
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
        return make_record(name, clock=self.clock, outcome=outcome, stream=request.stream,
                           latency_s=self.latency_s, request=request)

    def routes_called(self) -> list[str]:
        return [name for name, _ in self.calls]
