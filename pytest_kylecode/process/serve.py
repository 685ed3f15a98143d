"""The cell's providers on loopback: one server per provider of the cell's routes (port 0).

Each server fronts the cell's whole stack (metering -> fault -> cassette -> emulator | live) through
``UpstreamRoute``, which turns the local URL back into the provider's own (the canonical one, or
``KYLECODE_<PROVIDER>_BASE_URL`` when recording live: the cassette layer stores the canonical one
either way), so the traffic of a program is recorded, matched and measured exactly as an in-process
agent's. A local base URL keeps the path of the provider's (``http://127.0.0.1:PORT/api/v1`` for
``https://openrouter.ai/api/v1``), so a client that appends its endpoint to either gets the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import httpx

from agent_runtime.config import Timeouts
from agent_runtime.providers import Provider
from pytest_kylecode.loopback import LoopbackServer
from pytest_kylecode.process.clock import WallWaits
from pytest_kylecode.timed_body import sync_body

__all__ = ["LoopbackProviders", "UpstreamRoute"]

# Headers that describe the local hop, not the request: the upstream request gets its own.
_LOCAL_HEADERS: Final = frozenset({"host", "content-length", "accept-encoding", "connection"})
_RETRY_AFTER: Final = ("retry-after", "retry-after-ms")


class UpstreamRoute(httpx.BaseTransport):
    """One provider's requests from the loopback server, rewritten for the stack below.

    - the URL: ``upstream_base`` + the path past ``local_path`` (query kept as sent);
    - the request's timeouts: the program's own (``agent.timeouts``), as an in-process cell's
      clients carry them (connect ``connect_s``; read ``idle_s``), so the metering classifies a
      wait past them as a ``timeout`` on the cell clock;
    - ``Retry-After`` (and ``retry-after-ms``) capped at ``max_retry_after_s`` when a scenario
      sets it: a program waits for it for real. The metering below sees the recorded value;
    - the fault's waits (``waits``), paid on the wall clock after each step of the stack (the
      call, then each chunk), before its result or its failure goes on to the program.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        local_path: str,
        upstream_base: str,
        timeouts: Timeouts,
        max_retry_after_s: float | None,
        waits: WallWaits,
    ) -> None:
        self.inner = inner
        self.waits = waits
        self.local_path = local_path.rstrip("/")
        self.upstream_base = upstream_base.rstrip("/")
        parts = urlsplit(self.upstream_base)
        self.upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self.timeouts = timeouts
        self.max_retry_after_s = max_retry_after_s

    def upstream_url(self, raw_path: str) -> str:
        if raw_path == self.local_path or raw_path.startswith((self.local_path + "/", self.local_path + "?")):
            return self.upstream_base + raw_path[len(self.local_path) :]
        return self.upstream_origin + raw_path

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        t = self.timeouts
        upstream = httpx.Request(
            request.method,
            self.upstream_url(request.url.raw_path.decode("ascii")),
            headers=[(k, v) for k, v in request.headers.multi_items() if k.lower() not in _LOCAL_HEADERS],
            content=request.read(),
            extensions={"timeout": {"connect": t.connect_s, "read": t.idle_s, "write": t.idle_s, "pool": t.idle_s}},
        )
        try:
            response = self.inner.handle_request(upstream)
        finally:
            self.waits.pay()
        headers = httpx.Headers(response.headers)
        cap = self.max_retry_after_s
        for name, unit in zip(_RETRY_AFTER, (1.0, 1000.0), strict=True):
            value = _number(headers.get(name))
            if cap is not None and value is not None and value > cap * unit:
                headers[name] = f"{cap * unit:g}"
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=_Paid(sync_body(response), self.waits),
            request=request,
            extensions=response.extensions,
        )


class _Paid(httpx.SyncByteStream):
    """A body whose every chunk (or failure) comes after the wall-clock wait it cost."""

    def __init__(self, inner: httpx.SyncByteStream, waits: WallWaits) -> None:
        self._inner = inner
        self._waits = waits

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                self._waits.pay()
                return
            except BaseException:
                self._waits.pay()
                raise
            self._waits.pay()
            yield chunk

    def close(self) -> None:
        self._inner.close()


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: served as recorded


class LoopbackProviders:
    """A started server per provider (first = the primary's), closed together.

    ``base_urls``: provider name -> the base URL to give the program (with the provider's path).
    ``log``: what the servers reported (dropped connections, cut streams), in order."""

    def __init__(
        self,
        stack: httpx.BaseTransport,
        providers: Sequence[tuple[Provider, str]],
        *,
        timeouts: Timeouts,
        max_retry_after_s: float | None,
        waits: WallWaits,
    ) -> None:
        self.log: list[str] = []
        self.base_urls: dict[str, str] = {}
        self._lock = threading.Lock()
        self._servers: list[LoopbackServer] = []
        try:
            for provider, upstream_base in providers:
                local_path = urlsplit(upstream_base).path.rstrip("/")
                route = UpstreamRoute(
                    stack,
                    local_path=local_path,
                    upstream_base=upstream_base,
                    timeouts=timeouts,
                    max_retry_after_s=max_retry_after_s,
                    waits=waits,
                )
                server = LoopbackServer(route, log=self._note)
                self._servers.append(server)
                self.base_urls[provider.name] = server.start().url + local_path
        except BaseException:
            self.close()
            raise

    def _note(self, line: str) -> None:
        with self._lock:
            self.log.append(line)

    def close(self) -> None:
        """Close every server at once: a server's shutdown waits for its accept loop to notice."""
        closing = [threading.Thread(target=server.close, name="kylecode-loopback-close") for server in self._servers]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()
        self._servers.clear()

    def __enter__(self) -> LoopbackProviders:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
