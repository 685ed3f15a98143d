"""A real loopback HTTP server in front of any httpx transport.

``kylecode emulate`` serves the emulator (wrapped by the FaultTransport when a fault is asked
for) with it, so clients in any language, official SDKs included, can be tested against
scripted, fault-injected traffic.

Each incoming request becomes an ``httpx.Request`` handed to the transport. The response's status
and headers leave together with the first body chunk (so a delay before the first byte delays the
whole answer), then the body is forwarded chunk by chunk, flushed after each chunk (one SSE event
per chunk from the emulator), with ``Transfer-Encoding: chunked`` unless the transport declared a
``content-length``. Timing is the transport's business: the emulator's response streams sleep on
their clock until each chunk is due, so serve the emulator with ``wire.IMMEDIATE`` pacing on the
real clock and only delays a fault asks for are felt.

A transport that raises, or a body stream that raises, makes the server drop the connection
without finishing the response: the client sees a connection error or a cut stream, which is how
``connect_error`` and cut-off bodies reach a real client.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

import httpx

from pytest_kylecode.timed_body import sync_body

# Hop-by-hop and framing headers: the server decides the framing itself.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_REASONS: Final = {529: "Site Overloaded"}
IDLE_TIMEOUT_S: Final = 60.0  # an idle keep-alive connection is closed after this long


class EmulatorServer:
    """Serve ``transport`` on ``http://host:port`` (``port=0`` picks a free port).

    Use ``serve_forever()`` in the foreground (the command) or ``start()``/``close()`` (a thread;
    also a context manager) in tests.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.transport = transport
        self.log = log
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, name="kylecode-emulate", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, drop open connections (ending their handler threads) and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.drop_connections()
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: EmulatorServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    # A TCP server's requests are its connections' sockets (socketserver types them wider).
    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        if isinstance(request, socket.socket):
            with self._lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        # Keep-alive handlers block reading the next request; shutting the socket down ends them.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked responses, as SDK connection pools expect
    server_version = "kylecode-emulator"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: _HTTPServer

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: object) -> None:
        log = self.server.owner.log
        if log is not None:
            from agent_runtime.observe.redact import redact_text, redact_url

            # A client may put its key in the query string (?key=...): the log masks it.
            line = re.sub(r"/\S*\?\S*", lambda m: redact_url(m.group(0)), format % args)
            log(f"{self.address_string()} {redact_text(line)}")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _serve(self) -> None:
        body = self._read_body()
        owner = self.server.owner
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _FRAMING]
        request = httpx.Request(self.command, owner.url + self.path, headers=headers, content=body)
        try:
            response = owner.transport.handle_request(request)
        except Exception as exc:  # a transport failure (or a connect_error/timeout fault): drop the connection
            self.log_message("%s %s -> dropped (%s: %s)", self.command, self.path, type(exc).__name__, exc)
            self.close_connection = True
            return
        try:
            self._write(response)
        finally:
            response.close()

    def _write(self, response: httpx.Response) -> None:
        # Status and headers go out with the first body chunk, so a delay before the first byte
        # (a `timeout` or `latency` fault) delays the whole answer, as a slow upstream would.
        chunks = iter(sync_body(response))
        try:
            first = next(chunks, b"")
        except Exception as exc:
            self.log_message("%s %s -> dropped (%s)", self.command, self.path, type(exc).__name__)
            self.close_connection = True
            return
        self.send_response(response.status_code, _REASONS.get(response.status_code))
        length = response.headers.get("content-length")
        for name, value in response.headers.multi_items():
            if name.lower() not in _FRAMING:
                self.send_header(name, value)
        if length is not None:
            self.send_header("content-length", length)
        else:
            self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            for chunk in itertools.chain((first,), chunks):
                if not chunk:
                    continue
                self.wfile.write(chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()  # the client sees each event as it comes
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as exc:  # the body broke off (a stream fault): leave the response unfinished
            self.log_message("%s %s -> cut after %d bytes (%s)", self.command, self.path, sent, type(exc).__name__)
            self.close_connection = True
            return
        if length is None:
            self.wfile.write(b"0\r\n\r\n")
        elif sent != int(length):
            self.close_connection = True  # the declared length was not honoured: the connection is unusable
        self.wfile.flush()
