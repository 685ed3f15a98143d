"""The cell's providers on loopback: real sockets in front of the emulator (and a fault)."""

from __future__ import annotations

import threading

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.config import Timeouts
from agent_runtime.providers import PROVIDERS
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.faults.catalog import FaultSpec
from pytest_kylecode.faults.transport import FaultTransport
from pytest_kylecode.process.clock import WallWaits
from pytest_kylecode.process.serve import LoopbackProviders, UpstreamRoute

SCRIPT = parse_script([{"text": "Done."}])
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "go"}]}
TIMEOUTS = Timeouts(connect_s=2, first_byte_s=3, idle_s=4)


class Seen(httpx.BaseTransport):
    """The emulator, keeping the requests it was sent (what the stack below the servers sees)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


def _route(inner: httpx.BaseTransport, cap: float | None = None) -> UpstreamRoute:
    waits = WallWaits(VirtualClock(), threading.Event())
    return UpstreamRoute(
        inner,
        local_path="/api/v1",
        upstream_base="https://openrouter.ai/api/v1",
        timeouts=TIMEOUTS,
        max_retry_after_s=cap,
        waits=waits,
    )


@pytest.mark.parametrize(
    ("sent", "upstream"),
    [
        ("/api/v1/chat/completions", "https://openrouter.ai/api/v1/chat/completions"),
        ("/api/v1/chat/completions?x=1", "https://openrouter.ai/api/v1/chat/completions?x=1"),
        ("/api/v1", "https://openrouter.ai/api/v1"),
        ("/v1/chat/completions", "https://openrouter.ai/v1/chat/completions"),  # outside the base: same host
        ("/api/v10/x", "https://openrouter.ai/api/v10/x"),
    ],
)
def test_the_local_path_becomes_the_providers_url(sent: str, upstream: str) -> None:
    assert _route(httpx.BaseTransport()).upstream_url(sent) == upstream


def test_each_provider_is_served_on_loopback_in_front_of_the_stack() -> None:
    seen = Seen(EmulatorTransport(SCRIPT, clock=VirtualClock()))
    providers = [
        (PROVIDERS["openai"], "https://api.openai.com/v1"),
        (PROVIDERS["openrouter"], "https://openrouter.ai/api/v1"),
    ]
    waits = WallWaits(VirtualClock(), threading.Event())
    with LoopbackProviders(seen, providers, timeouts=TIMEOUTS, max_retry_after_s=None, waits=waits) as servers:
        openai, openrouter = servers.base_urls["openai"], servers.base_urls["openrouter"]
        assert openai.startswith("http://127.0.0.1:") and openai.endswith("/v1")
        assert openrouter.endswith("/api/v1") and openrouter.split("/")[2] != openai.split("/")[2]
        with httpx.Client() as client:
            answer = client.post(f"{openrouter}/chat/completions", json=BODY, headers={"x-trace": "t1"})
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Done."
    (request,) = seen.requests
    assert str(request.url) == "https://openrouter.ai/api/v1/chat/completions"
    assert request.headers["host"] == "openrouter.ai" and request.headers["x-trace"] == "t1"
    # The program's own timeouts, as an in-process cell's client carries them, for the metering.
    assert request.extensions["timeout"] == {"connect": 2, "read": 4, "write": 4, "pool": 4}
    assert servers.log and "POST /api/v1/chat/completions" in servers.log[0]


@pytest.mark.parametrize(("cap", "served"), [(None, "1"), (0.0, "0"), (5.0, "1")])
def test_retry_after_is_served_as_recorded_unless_capped(cap: float | None, served: str) -> None:
    clock = VirtualClock()
    fault = FaultTransport(
        EmulatorTransport(SCRIPT, clock=clock),
        FaultSpec("http_429"),
        primary="openrouter/x",
        clock=clock,
        timeouts=TIMEOUTS,
    )
    route = _route(fault, cap)
    request = httpx.Request("POST", "http://127.0.0.1:1/api/v1/chat/completions", json={**BODY, "model": "x"})
    answer = route.handle_request(request)
    answer.read()
    assert answer.status_code == 429 and answer.headers["retry-after"] == served
