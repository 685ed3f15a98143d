"""The plugin's emulator behind HTTP faults per route: real provider bytes for the runtime's end-to-end tests."""

from __future__ import annotations

import json

import httpx

from agent_runtime.providers import parse_route
from agent_runtime.wire.client import ROUTE_EXTENSION
from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, for_protocol, parse_script
from pytest_kylecode.emulator.transport import to_httpx


class RouteFaults(httpx.BaseTransport):
    """An httpx transport over the emulator that answers with HTTP faults per route, in order.

    ``faults[route]`` is a list of fault kinds (``None`` = let the emulator answer); calls past the
    list are answered by the emulator. ``tools_unsupported`` only hits requests that carry tools,
    as the real route does. ``seen`` keeps ``(route, kind, body)`` of every request.
    """

    def __init__(self, script, faults, clock, *, timing=None):
        self.timing = timing or IMMEDIATE
        self.inner = EmulatorTransport(script, clock=clock, timing=self.timing)
        self.faults = {route: list(kinds) for route, kinds in faults.items()}
        self.clock = clock
        self.seen: list[tuple[str, str | None, dict]] = []

    def handle_request(self, request):
        route = request.extensions.get(ROUTE_EXTENSION)
        body = json.loads(request.read())
        queue = self.faults.get(route) or []
        kind = queue.pop(0) if queue else None
        if kind == "tools_unsupported" and not body.get("tools"):
            kind = None
        self.seen.append((route, kind, body))
        if kind is None:
            return self.inner.handle_request(request)
        parsed = parse_route(route)
        wire = for_protocol(parsed.protocol).error_response(
            kind, provider=parsed.provider.name, model=parsed.model, timing=self.timing
        )
        return to_httpx(wire, self.clock, self.clock.now(), request)

    def routes(self):
        return [route for route, _, _ in self.seen]


def emulated_http(script, faults=None, clock=None):
    """``(httpx.Client, RouteFaults)`` serving ``script`` (a scenario-style list of turns)."""
    transport = RouteFaults(parse_script(script), faults or {}, clock)
    return httpx.Client(transport=transport), transport


TWO_TURNS = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "greeting.txt", "content": "hello\n"}}]},
    {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "greeting written"}}]},
]
