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

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Final, TypeAlias, TypeVar, overload

import httpx
import httpx2

__all__ = ["AsyncHttpx2Transport", "AsyncHttpxTransport", "Httpx2Transport", "HttpxTransport", "translate_error"]

_RESPONSE_EXTENSIONS: Final = ("reason_phrase", "http_version")

_Request: TypeAlias = httpx.Request | httpx2.Request
_Response: TypeAlias = httpx.Response | httpx2.Response
_RequestT = TypeVar("_RequestT", httpx.Request, httpx2.Request)


def translate_error(exc: BaseException, to: ModuleType, request: _Request | None = None) -> BaseException | None:
    """``exc`` (an ``httpx`` or ``httpx2`` request error) as the same-named class of ``to``.

    The first class in ``exc``'s MRO whose name ``to`` defines decides, so a subclass
    such as the cassette's ``ReplayMiss(httpx.TransportError)`` becomes
    ``httpx2.TransportError``. ``None`` for exceptions that are not request errors.
    ``request`` (of ``to``'s package) is attached to the new exception.
    """
    for cls in type(exc).__mro__:
        target = getattr(to, cls.__name__, None)
        if isinstance(target, type) and issubclass(target, to.RequestError):
            # Looked up by name in a module: every RequestError class of both packages takes (message, request=).
            translated: BaseException = target(str(exc), request=request)
            return translated
        if cls.__name__ == "RequestError":
            break
    return None


@contextmanager
def _errors_as(source: ModuleType, target: ModuleType, request: _Request) -> Iterator[None]:
    """Re-raise a request error of ``source`` raised inside as the same-named class of ``target``."""
    if source is target:
        yield
        return
    try:
        yield
    except source.RequestError as exc:
        translated = translate_error(exc, target, request)
        raise (translated if translated is not None else exc) from exc


def _outgoing(request: _Request, content: bytes, make: type[_RequestT]) -> _RequestT:
    """``request`` rebuilt as a request of the inner transport's package, around the body ``content``."""
    return make(
        request.method,
        str(request.url),
        headers=request.headers.raw,
        content=content,
        extensions=dict(request.extensions),
    )


def _sync_body(response: _Response) -> Iterable[bytes]:
    stream = response.stream
    if not isinstance(stream, (httpx.SyncByteStream, httpx2.SyncByteStream)):
        raise TypeError(f"a sync transport answered with a {type(stream).__name__} body, not a SyncByteStream")
    return stream


class _Body:
    """The inner response's body, streamed chunk by chunk with its errors translated."""

    def __init__(self, inner: _Response, source: ModuleType, target: ModuleType, outer: _Request) -> None:
        self._inner = inner
        self._source = source
        self._target = target
        self._outer = outer

    def _chunks(self) -> Iterator[bytes]:
        with _errors_as(self._source, self._target, self._outer):
            yield from _sync_body(self._inner)


class _SyncBody(_Body, httpx.SyncByteStream, httpx2.SyncByteStream):
    """A sync body for a response of either package."""

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()

    def close(self) -> None:
        self._inner.close()


class _AsyncBody(_Body, httpx.AsyncByteStream, httpx2.AsyncByteStream):
    """An async body for a response of either package, read from the sync inner body."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk

    async def aclose(self) -> None:
        self._inner.close()


@overload
def _response(inner: _Response, body: _SyncBody | _AsyncBody, request: httpx.Request) -> httpx.Response: ...
@overload
def _response(inner: _Response, body: _SyncBody | _AsyncBody, request: httpx2.Request) -> httpx2.Response: ...
def _response(inner: _Response, body: _SyncBody | _AsyncBody, request: _Request) -> _Response:
    """The response handed to the outer client: the inner one's status, raw headers and extensions, ``body``."""
    extensions: dict[str, object] = {k: inner.extensions[k] for k in _RESPONSE_EXTENSIONS if k in inner.extensions}
    if isinstance(request, httpx.Request):
        return httpx.Response(
            inner.status_code, headers=inner.headers.raw, stream=body, request=request, extensions=extensions
        )
    return httpx2.Response(
        inner.status_code, headers=inner.headers.raw, stream=body, request=request, extensions=extensions
    )


# -- sync ---------------------------------------------------------------------------------------


class Httpx2Transport(httpx2.BaseTransport):
    """Serves an ``httpx2.Client`` from a sync ``httpx`` transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        outgoing = _outgoing(request, request.read(), httpx.Request)
        with _errors_as(httpx, httpx2, request):
            response = self.inner.handle_request(outgoing)
        return _response(response, _SyncBody(response, httpx, httpx2, request), request)

    def close(self) -> None:
        self.inner.close()


class HttpxTransport(httpx.BaseTransport):
    """Serves an ``httpx.Client`` from a sync ``httpx2`` transport (e.g. an httpx2 mock)."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        outgoing = _outgoing(request, request.read(), httpx2.Request)
        with _errors_as(httpx2, httpx, request):
            response = self.inner.handle_request(outgoing)
        return _response(response, _SyncBody(response, httpx2, httpx, request), request)

    def close(self) -> None:
        self.inner.close()


# -- async over a sync inner transport ----------------------------------------------------------


class AsyncHttpx2Transport(httpx2.AsyncBaseTransport):
    """Serves an ``httpx2.AsyncClient`` from a sync ``httpx`` transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        outgoing = _outgoing(request, await request.aread(), httpx.Request)
        with _errors_as(httpx, httpx2, request):
            response = self.inner.handle_request(outgoing)
        return _response(response, _AsyncBody(response, httpx, httpx2, request), request)

    async def aclose(self) -> None:
        self.inner.close()


class AsyncHttpxTransport(httpx.AsyncBaseTransport):
    """Serves an ``httpx.AsyncClient`` from a sync ``httpx`` transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A fresh sync request: the inner transport reads the body synchronously, and an async
        # client's request stream refuses sync iteration.
        outgoing = _outgoing(request, await request.aread(), httpx.Request)
        response = self.inner.handle_request(outgoing)
        return _response(response, _AsyncBody(response, httpx, httpx, request), request)

    async def aclose(self) -> None:
        self.inner.close()
