"""Transport bridges between ``httpx`` and ``httpx2``, sync and async.

``httpx`` and ``httpx2`` are separate packages with look-alike but distinct classes: an
``httpx`` transport cannot serve an ``httpx2.Client`` (the official ``openai`` and
``anthropic`` SDKs run on ``httpx2``) and the reverse. The cell's stack (metering, faults,
cassettes, emulator) is made of *sync* ``httpx`` transports, so:

==========================  ===========================  ==============================
bridge                      serves                       over
==========================  ===========================  ==============================
``Httpx2Transport``         ``httpx2.Client``            a sync ``httpx`` transport
``AsyncHttpx2Transport``    ``httpx2.AsyncClient``       a sync ``httpx`` transport
``AsyncHttpxTransport``     ``httpx.AsyncClient``        a sync ``httpx`` transport
``HttpxTransport``          ``httpx.Client``             a sync ``httpx2`` transport
==========================  ===========================  ==============================

Contract of every bridge: the request (method, URL, raw headers, body, extensions such as
``timeout``) and the response (status, raw headers, raw body bytes, ``reason_phrase``,
``http_version``) cross unchanged; the body streams chunk by chunk, never buffered; a
transport exception of one package is re-raised as the same-named class of the other
(``httpx.ReadTimeout`` -> ``httpx2.ReadTimeout``), chained to the original, so clients and
SDKs retry and classify it as they would a real network error. ``close`` closes the inner
transport.

The async bridges run the sync inner transport on the event loop's thread. Over the
virtual clock (replay, emulator) nothing blocks; when recording from live providers an
async client's calls block the loop while they are on the wire, one at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any, Final

import httpx
import httpx2

__all__ = ["AsyncHttpx2Transport", "AsyncHttpxTransport", "Httpx2Transport", "HttpxTransport", "translate_error"]

_RESPONSE_EXTENSIONS: Final = ("reason_phrase", "http_version")


def translate_error(exc: BaseException, to: ModuleType, request: Any = None) -> BaseException | None:
    """``exc`` (an ``httpx`` or ``httpx2`` request error) as the same-named class of ``to``.

    The first class in ``exc``'s MRO whose name ``to`` defines decides, so a subclass
    such as the cassette's ``ReplayMiss(httpx.TransportError)`` becomes
    ``httpx2.TransportError``. ``None`` for exceptions that are not request errors.
    ``request`` (of ``to``'s package) is attached to the new exception.
    """
    for cls in type(exc).__mro__:
        target = getattr(to, cls.__name__, None)
        if isinstance(target, type) and issubclass(target, to.RequestError):
            return target(str(exc), request=request)
        if cls.__name__ == "RequestError":
            break
    return None


def _convert_request(request: Any, content: bytes, to: ModuleType) -> Any:
    return to.Request(
        request.method,
        str(request.url),
        headers=request.headers.raw,
        content=content,
        extensions=dict(request.extensions),
    )


def _response(inner: Any, stream: Any, request: Any, to: ModuleType) -> Any:
    extensions = {k: inner.extensions[k] for k in _RESPONSE_EXTENSIONS if k in inner.extensions}
    return to.Response(
        inner.status_code, headers=inner.headers.raw, stream=stream, request=request, extensions=extensions
    )


class _Translating:
    """Shared plumbing: send through the inner transport, translate its errors."""

    _to: ModuleType
    _from: ModuleType

    def _send(self, inner: Any, request: Any, outer: Any) -> Any:
        try:
            return inner.handle_request(request)
        except self._from.RequestError as exc:
            if self._to is self._from:
                raise
            raise _translated(exc, self._to, outer) from exc

    def _chunks(self, response: Any, outer: Any) -> Iterator[bytes]:
        try:
            yield from response.stream
        except self._from.RequestError as exc:
            if self._to is self._from:
                raise
            raise _translated(exc, self._to, outer) from exc


def _translated(exc: BaseException, to: ModuleType, request: Any) -> BaseException:
    out = translate_error(exc, to, request)
    return out if out is not None else exc


# -- sync ---------------------------------------------------------------------------------------


class _SyncStream:
    """The inner response's body as the outer package's ``SyncByteStream``."""

    def __init__(self, owner: _Translating, inner: Any, outer: Any) -> None:
        self._owner = owner
        self._inner = inner
        self._outer = outer

    def __iter__(self) -> Iterator[bytes]:
        return self._owner._chunks(self._inner, self._outer)

    def close(self) -> None:
        self._inner.close()


class _Httpx2SyncStream(_SyncStream, httpx2.SyncByteStream):
    pass


class _HttpxSyncStream(_SyncStream, httpx.SyncByteStream):
    pass


class Httpx2Transport(_Translating, httpx2.BaseTransport):
    """Serves an ``httpx2.Client`` from a sync ``httpx`` transport."""

    _to, _from = httpx2, httpx

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._send(self.inner, _convert_request(request, request.read(), httpx), request)
        return _response(response, _Httpx2SyncStream(self, response, request), request, httpx2)

    def close(self) -> None:
        self.inner.close()


class HttpxTransport(_Translating, httpx.BaseTransport):
    """Serves an ``httpx.Client`` from a sync ``httpx2`` transport (e.g. an httpx2 mock)."""

    _to, _from = httpx, httpx2

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._send(self.inner, _convert_request(request, request.read(), httpx2), request)
        return _response(response, _HttpxSyncStream(self, response, request), request, httpx)

    def close(self) -> None:
        self.inner.close()


# -- async over a sync inner transport ----------------------------------------------------------


class _AsyncStream:
    def __init__(self, owner: _Translating, inner: Any, outer: Any) -> None:
        self._owner = owner
        self._inner = inner
        self._outer = outer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._owner._chunks(self._inner, self._outer):
            yield chunk

    async def aclose(self) -> None:
        self._inner.close()


class _Httpx2AsyncStream(_AsyncStream, httpx2.AsyncByteStream):
    pass


class _HttpxAsyncStream(_AsyncStream, httpx.AsyncByteStream):
    pass


class AsyncHttpx2Transport(_Translating, httpx2.AsyncBaseTransport):
    """Serves an ``httpx2.AsyncClient`` from a sync ``httpx`` transport."""

    _to, _from = httpx2, httpx

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        content = await request.aread()
        response = self._send(self.inner, _convert_request(request, content, httpx), request)
        return _response(response, _Httpx2AsyncStream(self, response, request), request, httpx2)

    async def aclose(self) -> None:
        self.inner.close()


class AsyncHttpxTransport(_Translating, httpx.AsyncBaseTransport):
    """Serves an ``httpx.AsyncClient`` from a sync ``httpx`` transport."""

    _to, _from = httpx, httpx

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        # A fresh sync request: the inner transport reads the body synchronously, and an async
        # client's request stream refuses sync iteration.
        response = self._send(self.inner, _convert_request(request, content, httpx), request)
        return _response(response, _HttpxAsyncStream(self, response, request), request, httpx)

    async def aclose(self) -> None:
        self.inner.close()
