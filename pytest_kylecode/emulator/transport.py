"""The provider emulator as an httpx transport: a scripted model speaking all three wire protocols.

Routing is by path suffix, so any base URL works (``/v1/chat/completions``,
``/api/v1/chat/completions``, ``/anthropic/v1/messages``, ``/v1/responses`` …). The transport is
stateless: which script turn it plays comes from the request's conversation (``wire.requests.turn_index``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from agent_runtime.clock import Clock, SystemClock
from pytest_kylecode.emulator.script import Turn, make_plan, pick_turn
from pytest_kylecode.timed_body import TimedByteStream
from pytest_kylecode.wire import DEFAULT_TIMING, Timing, WireResponse, for_protocol
from pytest_kylecode.wire.common import dumps
from pytest_kylecode.wire.requests import protocol_for_path, turn_index


def respond(
    script: Sequence[Turn], method: str, path: str, content: bytes, timing: Timing = DEFAULT_TIMING
) -> WireResponse:
    """The emulator's whole behaviour as a pure function of one request (no I/O, no clock)."""
    protocol = protocol_for_path(path)
    if protocol is None or method.upper() != "POST":
        return _unknown_url(method, path, timing)
    wire = for_protocol(protocol)
    try:
        body: object = json.loads(content) if content else None
    except ValueError as exc:  # bad UTF-8 or bad JSON: the provider's own 400
        return wire.error_response(
            "http_400", message=f"We could not parse the JSON body of your request. ({exc})", timing=timing
        )
    if not isinstance(body, dict):
        return wire.error_response("http_400", message="The request body must be a JSON object.", timing=timing)
    problem = wire.validate(body)
    if problem:
        return wire.error_response("http_400", message=problem, model=str(body.get("model", "")), timing=timing)
    index = turn_index(protocol, body)
    plan = make_plan(pick_turn(script, index), body, index)
    return wire.render(plan, body, timing)


def _unknown_url(method: str, path: str, timing: Timing) -> WireResponse:
    error = {
        "error": {
            "message": f"Unknown request URL: {method.upper()} {path}. The emulator serves POST "
            ".../chat/completions, .../messages and .../responses.",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }
    return WireResponse(404, [("content-type", "application/json")], timing.single(dumps(error).encode(), 1))


class EmulatorTransport(httpx.BaseTransport):
    """Serve ``script`` to an ``httpx.Client``; bodies are ``TimedByteStream`` s played on ``clock``.

    ``timing`` sets the synthetic pacing (default: first byte at 0.25 s, then 0.02 s per event);
    ``wire.IMMEDIATE`` serves at once.
    """

    def __init__(self, script: Sequence[Turn], *, clock: Clock | None = None, timing: Timing = DEFAULT_TIMING) -> None:
        if not script:
            raise ValueError("the emulator needs a script of at least one turn")
        self.script = tuple(script)
        self.clock = clock if clock is not None else SystemClock()
        self.timing = timing

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = self.clock.now()  # offsets count from the moment the request is sent
        wire = respond(self.script, request.method, request.url.path, request.read(), self.timing)
        return to_httpx(wire, self.clock, start, request)


def to_httpx(wire: WireResponse, clock: Clock, start: float, request: httpx.Request | None = None) -> httpx.Response:
    """An ``httpx.Response`` whose body plays ``wire.chunks`` on ``clock`` from ``start``."""
    headers = list(wire.headers)
    if not (wire.header("content-type") or "").startswith("text/event-stream"):
        headers.append(("content-length", str(sum(len(c) for _, c in wire.chunks))))
    return httpx.Response(
        wire.status, headers=headers, stream=TimedByteStream(wire.chunks, clock, start), request=request
    )
