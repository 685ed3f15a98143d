"""Shared pieces of the CLI tests: an emulator on a real loopback port, and a small run directory."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import httpx

from agent_runtime.clock import VirtualClock
from agent_runtime.errors import ProviderError
from agent_runtime.observe.metrics import Attempt
from agent_runtime.observe.runlog import RunLog
from agent_runtime.wire.client import CallRecord
from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, for_protocol, parse_script
from pytest_kylecode.emulator.transport import to_httpx
from pytest_kylecode.loopback import LoopbackServer

SCRIPT = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "greeting.txt", "content": "hello\n"}}]},
    {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "greeting written"}}]},
]
CANARY = "sk-ant-CANARY-cli-0123456789"


class AlwaysFault(httpx.BaseTransport):
    """Answers every request with one HTTP fault of the chat protocol."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        wire = for_protocol("openai_chat").error_response(self.kind, timing=IMMEDIATE)
        return to_httpx(wire, VirtualClock(), 0.0, request)


@contextmanager
def emulator(script=SCRIPT, fault: str | None = None):
    transport = AlwaysFault(fault) if fault else EmulatorTransport(parse_script(script), timing=IMMEDIATE)
    with LoopbackServer(transport) as server:
        yield server.url + "/v1"


def small_run_dir(root: Path) -> Path:
    clock = VirtualClock()
    record = CallRecord(
        route="anthropic/claude-sonnet-4-5",
        url="https://api.anthropic.com/v1/messages",
        request_headers={"x-api-key": CANARY},
        request_body={"model": "claude-sonnet-4-5"},
        stream=False,
        started=clock.now(),
        status=401,
        raw=f'{{"key": "{CANARY}"}}'.encode(),
        response_headers={"content-type": "application/json"},
        latency_ms=12.0,
        error=ProviderError("auth", f"invalid x-api-key {CANARY}", status=401),
    )
    log = RunLog()
    log.record_attempt(Attempt(record, 1, 1))
    log.set_info(outcome="failed", error_category="auth")
    return log.write(root, "cli", "cell", env={})
