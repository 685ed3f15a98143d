"""The loopback server under load and abuse, over real sockets on 127.0.0.1.

Each test is one way a client can hurt the server (too many at once, slow, gone mid-stall,
malformed, hostile bytes for the log) and checks what another client, or the person reading the
log, notices: an answer, a 4xx, a bounded number of threads, escaped lines.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from pytest_kylecode.commands.emulate import serve_transport
from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, parse_script
from pytest_kylecode.faults.catalog import FaultSpec
from pytest_kylecode.loopback import Limits, LoopbackClock, LoopbackServer

SCRIPT = parse_script([{"text": "Looking around.", "tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]}])
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "go"}]}
TIMEOUT = 10.0


def _request(body: object = CHAT, *, path: str = "/v1/chat/completions", close: bool = True) -> bytes:
    data = json.dumps(body).encode()
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
        % (path.encode(), b"Connection: close\r\n" if close else b"", len(data), data)
    )


def _exchange(server: LoopbackServer, data: bytes) -> bytes:
    """Send ``data`` on a new connection; everything the server sends until it closes."""
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


@contextmanager
def _emulator(limits: Limits = Limits(), log: list[str] | None = None) -> Iterator[LoopbackServer]:
    transport = EmulatorTransport(SCRIPT, clock=LoopbackClock(), timing=IMMEDIATE)
    with LoopbackServer(transport, limits=limits, log=None if log is None else log.append) as server:
        yield server


def _answered(server: LoopbackServer) -> bool:
    """A fresh, well-formed request still gets the script's answer."""
    answer = _exchange(server, _request())
    return _status(answer) == 200 and b"list_dir" in answer


# -- many clients at once ----------------------------------------------------------------------------


def test_two_hundred_simultaneous_streaming_clients_all_get_their_stream() -> None:
    async def one(port: int, request: bytes) -> bytes:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(request)
                return await reader.read(-1)
            finally:
                writer.close()

    async def everyone(port: int) -> list[bytes | BaseException]:
        request = _request({**CHAT, "stream": True})
        return await asyncio.gather(*(one(port, request) for _ in range(200)), return_exceptions=True)

    with _emulator() as server:
        answers = asyncio.run(everyone(server.port))
    failed = [a for a in answers if isinstance(a, BaseException) or not a.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")]
    assert not failed, f"{len(failed)} of 200 clients got no whole stream: {failed[:3]!r}"


def test_a_kept_alive_connection_answers_without_waiting_for_delayed_acks() -> None:
    # Headers and body leaving in separate small writes without TCP_NODELAY wait ~40 ms for the
    # client's delayed ACK on every answer. The 5 ms target is the load test's (a quiet machine);
    # this bound only has to stay clear of that 40 ms floor on a busy one.
    with _emulator() as server, httpx.Client(timeout=TIMEOUT) as client:
        url = server.url + "/v1/chat/completions"
        client.post(url, json=CHAT)
        latencies = []
        for _ in range(30):
            start = time.perf_counter()
            assert client.post(url, json=CHAT).status_code == 200
            latencies.append(time.perf_counter() - start)
    assert statistics.median(latencies) < 0.025, latencies


def test_connections_past_the_limit_get_503_and_the_others_are_still_served() -> None:
    with _emulator(Limits(max_connections=2)) as server, ExitStack() as held:
        for _ in range(2):
            held.enter_context(socket.create_connection((server.host, server.port), timeout=TIMEOUT))
        assert _status(_exchange(server, _request())) == 503
        held.close()
        deadline = time.monotonic() + TIMEOUT  # the server notices the two closed connections
        while _status(_exchange(server, _request())) == 503 and time.monotonic() < deadline:
            pass
        assert _answered(server)


# -- slow and vanished clients hold no threads ---------------------------------------------------------


def _threads_now() -> int:
    return threading.active_count()


def test_clients_that_leave_during_a_stall_hold_no_thread() -> None:
    clock = LoopbackClock()
    inner = EmulatorTransport(SCRIPT, clock=clock, timing=IMMEDIATE)
    # 50 stalled streams (a pause of idle_s + 1 s after two events), then the script as usual.
    transport = serve_transport(inner, FaultSpec("stall", times=50, route="any"), clock)
    before = _threads_now()
    limits = Limits(workers=4)
    with LoopbackServer(transport, limits=limits) as server:
        sockets = []
        for _ in range(50):
            sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
            sock.sendall(_request({**CHAT, "stream": True}))
            seen = b""
            while seen.count(b"data: ") < 2:  # into the stall: the first events arrived
                chunk = sock.recv(65536)
                assert chunk, seen
                seen += chunk
            sockets.append(sock)
        during = _threads_now() - before
        for sock in sockets:
            sock.close()
        assert _answered(server)  # the 51st call is not faulted, and it is answered at once
        after_leaving = _threads_now() - before
    assert during <= limits.workers + 1, f"{during} threads for 50 stalled clients"  # +1: the loop's
    assert after_leaving <= limits.workers + 1
    assert _threads_now() == before  # close() joined every thread it started


def test_slowloris_connections_cost_no_thread_and_are_closed_when_idle() -> None:
    limits = Limits(workers=4, idle_timeout_s=1.0)
    before = _threads_now()
    with _emulator(limits) as server, ExitStack() as held:
        slow = []
        for _ in range(300):
            sock = held.enter_context(socket.create_connection((server.host, server.port), timeout=TIMEOUT))
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
            slow.append(sock)
        assert _answered(server)
        assert _threads_now() - before <= limits.workers + 1
        # The server closes a connection that has sent no whole request within the idle time.
        assert slow[0].recv(65536) == b""
        assert slow[-1].recv(65536) == b""


# -- malformed requests get a 4xx ----------------------------------------------------------------------

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "data",
    [
        HEAD + b"Content-Length: 1000000000000000\r\n\r\n{",
        HEAD + b"Content-Length: -5\r\n\r\n{",
        HEAD + b"Content-Length: abc\r\n\r\n{",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /v1/chat/\x01completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}",
        HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(DEEP), DEEP),
        HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(DEEP) + 7, b'{"a": ' + DEEP + b"}"),
        b"GET http://elsewhere.example/v1/models HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n",
    ],
    ids=[
        "content-length-1e15",
        "negative-content-length",
        "content-length-abc",
        "chunk-size-zz",
        "control-char-in-path",
        "deep-json",
        "deep-json-in-object",
        "absolute-url",
    ],
)
def test_a_malformed_request_gets_a_4xx_and_the_server_goes_on(data: bytes) -> None:
    log: list[str] = []
    with _emulator(log=log) as server:
        status = _status(_exchange(server, data))
        assert 400 <= status < 500, log
        assert _answered(server)
    assert not any("Traceback" in line for line in log)


def test_a_body_over_the_limit_gets_413_before_it_is_sent() -> None:
    with _emulator(Limits(max_body_bytes=1024)) as server:
        with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
            sock.sendall(HEAD + b"Content-Length: 4096\r\n\r\n")  # the body itself never comes
            head = sock.recv(65536)
        assert _status(head) == 413
        chunked = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b" " * 1024 + b"\r\n"
        chunked += b"1\r\n \r\n0\r\n\r\n"
        assert _status(_exchange(server, chunked)) == 413
        assert _answered(server)


def test_expect_100_continue_is_answered_then_the_request() -> None:
    body = json.dumps(CHAT).encode()
    with _emulator() as server, socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(HEAD + b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert _status(answer) == 200 and b"list_dir" in answer


# -- the log -------------------------------------------------------------------------------------------


class _Failing(httpx.BaseTransport):
    """Fails with a message carrying what the client sent (the decoded path), as an upstream's might."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url.path}")


def test_log_lines_carry_no_raw_control_bytes() -> None:
    log: list[str] = []
    with LoopbackServer(_Failing(), log=log.append) as server:
        _exchange(server, b"GET /\x1b[31mred\x07 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _exchange(server, b"GET /v1/%1b]0;owned%07%1b[2J%0d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert len(log) >= 2, log
    for line in log:
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line), repr(line)
    assert any("\\x1b" in line for line in log), log  # said, not done
