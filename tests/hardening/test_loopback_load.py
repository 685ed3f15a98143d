"""Load on ``kylecode emulate``'s server: many streaming clients at once, and one kept-alive client.

The server is the real command in its own process; the clients are httpx's, as the SDKs use it.
Bounded in count (600 streamed answers, 300 kept-alive ones) and in time (every request has a
timeout), loopback only. Kept out of the default run (``-m load`` runs it; ``.ci/run`` does, in its
own step); it prints requests/s, p50/p99 and errors for each phase.
"""

from __future__ import annotations

import asyncio
import json
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """\
task: load
script:
  - text: "Looking around the project before changing anything."
    tool_calls:
      - {name: list_dir, arguments: {path: "."}}
"""
CONCURRENT = 200
ROUNDS = 3
KEPT_ALIVE = 300
TIMEOUT = 15.0
CHAT = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "go"}],
    "tools": [{"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}],
}


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    def report(self) -> str:
        done = sorted(self.latencies)
        p50 = statistics.median(done) * 1000 if done else float("nan")
        p99 = done[min(len(done) - 1, int(len(done) * 0.99))] * 1000 if done else float("nan")
        rate = len(done) / self.wall if self.wall else 0.0
        return (
            f"{self.name}: {len(done) + len(self.errors)} requests, {rate:.0f} requests/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {len(self.errors)}"
        )


@contextmanager
def emulate(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "load.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_kylecode.cli", "emulate", "--scenario", str(scenario), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # one log line per request: not the point here
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = ""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 30
            while not line and proc.poll() is None and time.monotonic() < deadline:
                if selector.select(timeout=deadline - time.monotonic()):
                    line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        yield line.removeprefix("listening on ").strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


async def _stream_once(host: str, port: int, request: bytes, phase: Phase) -> None:
    # A lean client (one request per connection, read to the last chunk), so that the figures are
    # the server's rather than the client library's.
    start = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            answer = await reader.read(-1)  # the request said `Connection: close`
    except (OSError, TimeoutError) as exc:
        phase.errors.append(f"{type(exc).__name__}: {exc}")
        return
    finally:
        if writer is not None:
            writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 ") or b"data: [DONE]" not in body or not body.endswith(b"0\r\n\r\n"):
        phase.errors.append(f"{head[:40]!r} ... {body[-40:]!r}")
        return
    phase.latencies.append(time.perf_counter() - start)


async def _concurrent_streams(base: str) -> Phase:
    phase = Phase(f"{CONCURRENT} concurrent streaming clients x {ROUNDS} rounds")
    address = httpx.URL(base)
    body = json.dumps({**CHAT, "stream": True}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (address.netloc, len(body), body)
    )
    started = time.perf_counter()
    for _ in range(ROUNDS):  # 200 new connections arrive at once, each round
        clients = (_stream_once(address.host, address.port or 80, request, phase) for _ in range(CONCURRENT))
        await asyncio.gather(*clients)
    phase.wall = time.perf_counter() - started
    return phase


def _kept_alive(base: str) -> Phase:
    phase = Phase(f"1 kept-alive client x {KEPT_ALIVE} answers")
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(timeout=TIMEOUT, limits=limits) as client:
        client.post(base + "/v1/chat/completions", json=CHAT)  # the connection is open from here on
        started = time.perf_counter()
        for _ in range(KEPT_ALIVE):
            start = time.perf_counter()
            try:
                response = client.post(base + "/v1/chat/completions", json=CHAT)
            except httpx.HTTPError as exc:
                phase.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                phase.errors.append(str(response.status_code))
                continue
            phase.latencies.append(time.perf_counter() - start)
        phase.wall = time.perf_counter() - started
    return phase


def test_emulate_holds_concurrent_streams_and_answers_a_kept_alive_client_fast(tmp_path: Path) -> None:
    with emulate(tmp_path) as base:
        streams = asyncio.run(_concurrent_streams(base))
        kept = _kept_alive(base)
    print()
    print("loopback load:", streams.report())
    print("loopback load:", kept.report())
    assert not streams.errors, streams.errors[:5]
    assert len(streams.latencies) == CONCURRENT * ROUNDS
    assert not kept.errors, kept.errors[:5]
    assert statistics.median(kept.latencies) < 0.005, kept.report()
