"""A real HTTP server on a loopback port in front of any httpx transport.

``kylecode emulate`` serves the emulator (behind the FaultTransport when a fault is asked for)
with it, and process-agent cells point a real agent process at it, so clients in any language,
official SDKs included, meet scripted, fault-injected traffic over a real socket.

Each incoming request becomes an ``httpx.Request`` (URL: this server's URL with the client's path
and query; the client's headers and body) handed to ``transport.handle_request``. The status and
headers leave with the first body chunk, so a delay before the first byte delays the whole
answer; then the body is relayed chunk by chunk, each chunk written and flushed on its own (one
SSE event per HTTP chunk from the emulator), with ``Transfer-Encoding: chunked`` unless the
transport declared a ``content-length``. A transport that raises before answering makes the
server drop the connection without an HTTP answer; a body that raises cuts the stream. That is
how ``connect_error`` and cut-off bodies reach a real client.

The HTTP side is aiohttp's low-level server on one asyncio loop: a waiting, slow or vanished
client costs a socket and a task, never a thread. The transport stack is synchronous, so each
step of it (the call, then each body chunk) runs on a bounded pool of worker threads. Time a
transport spends waiting is not spent there when it waits on ``LoopbackClock``: a sleep inside a
served request is only noted, and the server waits it out on the loop before relaying what came
next, so a stalled stream holds no thread and a client that leaves during the stall frees
everything at once. The limits (body size, JSON nesting, connections, idle time) answer 4xx or
close, and every malformed request gets aiohttp's 400; log lines are escaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeVar

import httpx
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from pytest_kylecode.timed_body import sync_body

_T = TypeVar("_T")

# Hop-by-hop and framing headers: the server decides the framing itself.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "expect"})
_REASONS: Final = {529: "Site Overloaded"}
_END: Final = b""  # what ``next`` returns here once a body is exhausted (empty chunks are skipped)
SERVER_NAME: Final = "kylecode-loopback"
# What the first step of a request gives: the response, its chunks, the chunks already pulled.
_Begun = tuple[httpx.Response, Iterator[bytes], list[bytes]]


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server (every value > 0)."""

    max_body_bytes: int = 32 * 1024 * 1024  # a larger request body gets 413, unread
    max_json_depth: int = 256  # a JSON body nested deeper gets 400 before the transport parses it
    max_connections: int = 1024  # a connection past this many open ones gets 503 and is closed
    workers: int = 32  # threads running the transport stack; more requests than this wait their turn
    idle_timeout_s: float = 30.0  # a connection with no complete request for this long is closed
    backlog: int = 1024  # connections the kernel queues before the loop accepts them


class LoopbackServer:
    """Serve ``transport`` on ``http://host:port`` (``port=0`` picks a free port, bound at once).

    ``serve_forever()`` runs in the foreground (the command) until ``KeyboardInterrupt`` or
    ``close()``; ``start()``/``close()`` (also a context manager) run it on a background thread.
    ``log`` receives one escaped line per request (and per refused connection).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.transport = transport
        self.log = log
        self.limits = limits
        self._sock = socket.create_server((host, port), backlog=limits.backlog)
        self._sock.setblocking(False)
        address = self._sock.getsockname()
        self._host, self._port = str(address[0]), int(address[1])
        self._pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="kylecode-loopback")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: Exception | None = None
        self._closed = False

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def serve_forever(self) -> None:
        """Serve on this thread until ``close()`` (from another thread) or ``KeyboardInterrupt``."""
        if self._closed:
            raise RuntimeError(f"the loopback server on {self.url} did not start: it was closed")
        loop = asyncio.new_event_loop()
        self._loop = loop
        task = loop.create_task(self._serve())
        try:
            loop.run_until_complete(task)
        except Exception as exc:
            self._failure = exc  # for start(), which waits on another thread
            raise
        except KeyboardInterrupt:
            # Ctrl-C (or the command's SIGTERM) lands wherever the loop was: let the server
            # finish its shutdown on the same loop, then let the caller see the interrupt.
            if not task.done():
                if self._stop is not None:
                    self._stop.set()
                else:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(task)
            raise
        finally:
            self._ready.set()
            self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._release()

    def start(self) -> LoopbackServer:
        """Serve on a background thread; returns once the server accepts connections."""
        if self._closed:
            raise RuntimeError(f"the loopback server on {self.url} did not start: it was closed")
        self._thread = threading.Thread(target=self._serve_in_background, name="kylecode-loopback", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError(f"the loopback server on {self.url} did not start") from self._failure
        return self

    def _serve_in_background(self) -> None:
        with contextlib.suppress(Exception):  # kept in self._failure: start() raises it
            self.serve_forever()

    def close(self) -> None:
        """Stop serving: every connection is closed, every worker thread joined, the port released."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._thread = None
        self._release()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop ---------------------------------------------------------------------------------

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = _CountingServer(self._handle, _line_logger(self._emit), self.limits.idle_timeout_s)
        limit = self.limits.max_connections

        def protocol() -> asyncio.Protocol:
            if server.open >= limit:
                return _Refuse(self._emit)
            return server()

        loop = asyncio.get_running_loop()
        listener = await loop.create_server(protocol, sock=self._sock, backlog=self.limits.backlog)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._stop_serving(listener, server)

    async def _stop_serving(self, listener: asyncio.Server, server: web.Server) -> None:
        listener.close()
        await _drop_all(server)
        await listener.wait_closed()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sock.close()
        # Queued steps are dropped; a step still running finishes (its client is already gone).
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- one request ------------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        said = f"{request.method} {request.raw_path} HTTP/{request.version.major}.{request.version.minor}"
        declared = request.content_length
        if declared is not None and declared > self.limits.max_body_bytes:
            return self._refuse(request, said, 413, f"the request body is over {self.limits.max_body_bytes} bytes")
        if request.headers.get("expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await _read_body(request, self.limits.max_body_bytes)
        except _TooLarge:
            return self._refuse(request, said, 413, f"the request body is over {self.limits.max_body_bytes} bytes")
        except (web.HTTPException, ValueError, ConnectionError) as exc:  # a malformed chunked body
            return self._refuse(request, said, 400, f"the request body is malformed ({type(exc).__name__})")
        if _may_nest_deeper(body, self.limits.max_json_depth) and await asyncio.wrap_future(
            self._pool.submit(_json_too_deep, body, self.limits.max_json_depth)  # a scan: off the loop
        ):
            return self._refuse(request, said, 400, f"the JSON body nests deeper than {self.limits.max_json_depth}")
        if not request.raw_path.startswith("/"):  # absolute-form or `*`: not a request to this server
            return self._refuse(request, said, 400, "the request target is not a path on this server")
        headers = [(k, v) for k, v in request.raw_headers if k.decode("latin-1").lower() not in _FRAMING]
        try:
            outgoing = httpx.Request(request.method, self.url + request.raw_path, headers=headers, content=body)
        except (httpx.InvalidURL, ValueError) as exc:
            return self._refuse(request, said, 400, f"the request cannot be relayed ({type(exc).__name__})")
        return await _Exchange(self, request, said).run(outgoing)

    def _refuse(self, request: web.BaseRequest, said: str, status: int, why: str) -> web.Response:
        self._emit(f'{_peer(request)} "{said}" {status} ({why})')
        answer = web.json_response({"error": {"type": "invalid_request_error", "message": why}}, status=status)
        answer.headers["server"] = SERVER_NAME
        answer.force_close()  # the rest of the body, if any, stays unread
        return answer

    def _step(self, pacing: _Pacing, fn: Callable[[], _T]) -> Future[_T]:
        return self._pool.submit(_paced, pacing, fn)

    def _emit(self, line: str) -> None:
        if self.log is not None:
            from agent_runtime.observe.redact import redact_text, redact_url

            # A client may put its key in the query string (?key=...): the log masks it.
            line = re.sub(r"/\S*\?\S*", lambda m: redact_url(m.group(0)), line)
            self.log(escape_line(redact_text(line)))


class _Exchange:
    """One request's way through the transport and back to the client."""

    def __init__(self, server: LoopbackServer, request: web.BaseRequest, said: str) -> None:
        self.server = server
        self.request = request
        self.said = said
        self.pacing = _Pacing()
        self.pending: Future[bytes] | Future[_Begun] | None = None  # the worker step under way

    async def _call(self, future: Future[_T]) -> _T:
        result = await asyncio.wrap_future(future)
        self.pending = None
        owed = self.pacing.take()
        if owed > 0:  # the transport waited on the LoopbackClock: wait here, holding no thread
            await asyncio.sleep(owed)
        return result

    async def run(self, outgoing: httpx.Request) -> web.StreamResponse:
        transport = self.server.transport
        opened: list[httpx.Response] = []

        def begin() -> _Begun:
            # The call and the first chunk in one step (the status leaves with the first chunk
            # anyway); when that chunk is the whole declared body, the end is due at once too, so
            # a plain answer costs the loop one hand-over to a worker, not three.
            response = transport.handle_request(outgoing)
            opened.append(response)
            chunks = iter(sync_body(response))
            head = [_pull(chunks)]
            length = _declared_length(response)
            if length is not None and head[0] and len(head[0]) == length:
                head.append(_pull(chunks))
            return response, chunks, head

        try:
            self.pending = begun = self.server._step(self.pacing, begin)
            response, chunks, head = await self._call(begun)
        except Exception as exc:  # the transport failed (or a connect_error fault): no answer at all
            self._log(f"-> dropped ({type(exc).__name__}: {exc})")
            return self._abort()
        finally:
            if opened and self.pending is not None:  # cancelled, or failed after the call
                self._close_later(opened[0])
        try:
            return await self._relay(response, chunks, head)
        finally:
            self._close_later(response)

    async def _relay(self, response: httpx.Response, chunks: Iterator[bytes], head: list[bytes]) -> web.StreamResponse:
        answer = web.StreamResponse(status=response.status_code, reason=_REASONS.get(response.status_code))
        for name, value in response.headers.multi_items():
            if name.lower() not in _FRAMING:
                answer.headers.add(name, value)
        answer.headers.setdefault("server", SERVER_NAME)
        length = _declared_length(response)
        if length is not None:
            answer.content_length = length
        else:
            answer.enable_chunked_encoding()
        sent = 0
        try:
            await answer.prepare(self.request)
            for chunk in head:
                if chunk:
                    await answer.write(chunk)
                    sent += len(chunk)
            chunk = head[-1]
            while chunk:  # _END, once the body is exhausted
                chunk = await self._next(chunks)
                if chunk:
                    await answer.write(chunk)  # written and drained: the client sees each chunk as it comes
                    sent += len(chunk)
        except ConnectionError:
            return self._abort()  # the client left
        except Exception as exc:  # the body broke off (a stream fault): leave the response unfinished
            self._log(f"{response.status_code} -> cut after {sent} bytes ({type(exc).__name__})")
            return self._abort()
        if length is not None and sent != length:
            self._log(f"{response.status_code} -> cut after {sent} of {length} bytes")
            return self._abort()
        await answer.write_eof()
        self._log(str(response.status_code))
        return answer

    async def _next(self, chunks: Iterator[bytes]) -> bytes:
        self.pending = stepped = self.server._step(self.pacing, lambda: _pull(chunks))
        return await self._call(stepped)

    def _abort(self) -> web.StreamResponse:
        # Nothing more is written: the connection just goes, as a failed upstream's would.
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        return web.StreamResponse()  # aiohttp finds the transport gone and writes nothing

    def _close_later(self, response: httpx.Response) -> None:
        # The body may still be running on a worker (the client left mid-step): close it there
        # once that step is over, never concurrently with it.
        pending = self.pending
        if pending is None or pending.done():
            response.close()
        else:
            pending.add_done_callback(lambda _: response.close())

    def _log(self, outcome: str) -> None:
        self.server._emit(f'{_peer(self.request)} "{self.said}" {outcome}')


def _pull(chunks: Iterator[bytes]) -> bytes:
    """The next non-empty chunk, or ``_END`` (an empty chunk carries nothing and would end a
    chunked body)."""
    for chunk in chunks:
        if chunk:
            return chunk
    return _END


def _declared_length(response: httpx.Response) -> int | None:
    length = response.headers.get("content-length")
    return None if length is None else int(length)  # a ValueError: the answer cannot be framed


# -- pacing: waits of the transport, taken on the loop ----------------------------------------------


class _Pacing:
    """Seconds a served request's transport slept on the ``LoopbackClock`` and the server owes it."""

    __slots__ = ("owed",)

    def __init__(self) -> None:
        self.owed = 0.0

    def take(self) -> float:
        owed, self.owed = self.owed, 0.0
        return owed


_current = threading.local()


def _paced(pacing: _Pacing, fn: Callable[[], _T]) -> _T:
    _current.pacing = pacing
    try:
        return fn()
    finally:
        _current.pacing = None


class LoopbackClock:
    """The real clock, for transports served by a ``LoopbackServer``.

    Inside a served request, ``sleep`` does not block the worker thread: it moves this request's
    ``now()`` on and the server waits that long on its loop before relaying what the transport
    produced next, exactly as if the thread had slept. Elsewhere it is ``SystemClock``.
    """

    def now(self) -> float:
        pacing: _Pacing | None = getattr(_current, "pacing", None)
        return time.monotonic() + (pacing.owed if pacing is not None else 0.0)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        pacing: _Pacing | None = getattr(_current, "pacing", None)
        if pacing is None:
            time.sleep(seconds)
        else:
            pacing.owed += seconds


# -- request bodies --------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


async def _read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body, refused (``_TooLarge``) as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        part = await request.content.readany()
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise _TooLarge
        parts.append(part)


# A JSON string (escapes included): brackets inside one do not nest anything.
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS: Final = re.compile(rb"[\[\]{}]")
_JSON_START: Final = re.compile(rb"\s*[\[{]")


def _may_nest_deeper(body: bytes, limit: int) -> bool:
    """The cheap test first: a JSON-looking body with more openers than ``limit``."""
    return bool(_JSON_START.match(body)) and body.count(b"[") + body.count(b"{") > limit


def _json_too_deep(body: bytes, limit: int) -> bool:
    """Whether a JSON-looking body nests arrays and objects deeper than ``limit``.

    Transports parse bodies with the standard library, which fails on deep nesting with a
    RecursionError rather than an answer; the server refuses such a body first, with a 400.
    """
    depth = 0
    for match in _BRACKETS.finditer(_JSON_STRING.sub(b"", body)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


# -- connections and logging -----------------------------------------------------------------------


class _CountingServer(web.Server):
    """aiohttp's server, counting its connections from the moment each is accepted (its own list
    fills a loop turn later, so a burst of accepts would all see it short)."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        logger: logging.Logger,
        idle_timeout_s: float,
    ) -> None:
        super().__init__(
            handler,
            handler_cancellation=True,  # a client that leaves cancels its request at once
            access_log=None,
            logger=logger,
            keepalive_timeout=idle_timeout_s,
            lingering_time=0,  # a refused body is never read to its end
        )
        self.open = 0

    def __call__(self) -> RequestHandler:
        self.open += 1
        return super().__call__()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.open -= 1
        super().connection_lost(handler, exc)


class _Refuse(asyncio.Protocol):
    """A connection past ``max_connections``: a 503, then the connection is closed.

    Closing with the client's request still unread would make the kernel answer with a reset
    that can overtake the 503; so the server stops writing, discards what arrives and closes when
    the client does (or after a second)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        self._emit(f"{peer[0] if peer else '-'} refused: too many open connections")
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        )
        transport.write_eof()
        self._deadline = asyncio.get_running_loop().call_later(1.0, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not served

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()


async def _drop_all(server: web.Server) -> None:
    # Connections waiting for a request, and requests under way, all go at once.
    handlers: list[RequestHandler] = server.connections
    for handler in handlers:
        handler.force_close()
        if handler.transport is not None:
            handler.transport.abort()
    # Let the cancelled handlers run their cleanup before the loop stops.
    for _ in range(3):
        await asyncio.sleep(0)


def _peer(request: web.BaseRequest) -> str:
    return request.remote or "-"


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_line(text: str) -> str:
    """``text`` with control characters written as ``\\xNN``: nothing a client sent reaches a
    terminal raw (ESC sequences, BEL, a carriage return that hides the line)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _LineHandler(logging.Handler):
    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__(logging.DEBUG)
        self._send = emit

    def emit(self, record: logging.LogRecord) -> None:
        # aiohttp reports a malformed request with its traceback and a multi-line excerpt with a
        # caret under the fault: one line of it is enough here.
        reason = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if reason is not None:
            message += f": {type(reason).__name__}: {' '.join(str(reason).split()).removesuffix(' ^')}"
        self._send(message)


def _line_logger(emit: Callable[[str], None]) -> logging.Logger:
    # A logger of this server's own, outside logging's registry: aiohttp's messages reach ``log``
    # as single escaped lines and never the root logger's stderr.
    logger = logging.Logger(SERVER_NAME, logging.INFO)
    logger.propagate = False
    logger.addHandler(_LineHandler(emit))
    return logger
