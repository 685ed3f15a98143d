"""httpx <-> httpx2 bridges: requests and responses cross unchanged, bodies stream, errors translate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import httpx2
import pytest

from pytest_kylecode.byo.bridge import (
    AsyncHttpx2Transport,
    AsyncHttpxTransport,
    Httpx2Transport,
    HttpxTransport,
    translate_error,
)


class Chunks(httpx.SyncByteStream):
    """A body that records how far it was read and whether it was closed."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.fail_after is not None and self.read == self.fail_after:
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            self.read += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


class Recorder(httpx.BaseTransport):
    def __init__(self, body: Chunks | None = None, raises: Exception | None = None) -> None:
        self.body = body or Chunks([b"data: 1\n\n", b"data: 2\n\n"])
        self.raises = raises
        self.requests: list[httpx.Request] = []
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raises is not None:
            raise self.raises
        return httpx.Response(
            201,
            headers=[("content-type", "text/event-stream"), ("x-one", "a"), ("x-one", "b")],
            stream=self.body,
            extensions={"reason_phrase": b"Created", "http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        self.closed = True


def test_httpx2_client_over_an_httpx_transport() -> None:
    inner = Recorder()
    with httpx2.Client(transport=Httpx2Transport(inner)) as client:
        with client.stream(
            "POST",
            "https://api.example/v1/x?q=1",
            json={"a": 1},
            headers={"x-key": "k"},
            timeout=httpx2.Timeout(7, connect=3),
        ) as response:
            raw = response.iter_raw()
            first = next(raw)
            assert inner.body.read == 1  # streamed, not buffered
            rest = b"".join(raw)
        assert response.status_code == 201 and response.reason_phrase == "Created"
        assert response.headers.get_list("x-one") == ["a", "b"]
    assert first + rest == b"data: 1\n\ndata: 2\n\n"
    sent = inner.requests[0]
    assert (sent.method, str(sent.url), sent.content) == ("POST", "https://api.example/v1/x?q=1", b'{"a":1}')
    assert sent.headers["x-key"] == "k"
    assert sent.extensions["timeout"] == {"connect": 3, "read": 7, "write": 7, "pool": 7}
    assert inner.body.closed and inner.closed  # the response closes the body; the client the transport


def test_httpx_client_over_an_httpx2_transport() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"echo": request.content.decode()})

    with httpx.Client(transport=HttpxTransport(httpx2.MockTransport(handler))) as client:
        assert client.post("https://x/y", content=b"hi").json() == {"echo": "hi"}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), httpx2.ConnectError),
        (httpx.ReadTimeout("slow"), httpx2.ReadTimeout),
        (httpx.RemoteProtocolError("cut"), httpx2.RemoteProtocolError),
    ],
)
def test_transport_errors_become_the_same_httpx2_class(error: Exception, expected: type) -> None:
    with (
        httpx2.Client(transport=Httpx2Transport(Recorder(raises=error))) as client,
        pytest.raises(expected, match=str(error)) as info,
    ):
        client.get("https://x/")
    assert info.value.__cause__ is error and info.value.request.url == "https://x/"


def test_an_error_mid_body_is_translated_too() -> None:
    inner = Recorder(Chunks([b"a", b"b", b"c"], fail_after=1))
    with (
        httpx2.Client(transport=Httpx2Transport(inner)) as client,
        client.stream("GET", "https://x/") as response,
        pytest.raises(httpx2.RemoteProtocolError),
    ):
        b"".join(response.iter_raw())


def test_the_error_table_covers_every_request_error() -> None:
    """Every request error crosses as the same-named class, or (httpx2's SSEError) its nearest base."""
    for source, target in ((httpx, httpx2), (httpx2, httpx)):
        classes = [c for c in vars(source).values() if isinstance(c, type) and issubclass(c, source.RequestError)]
        assert len(classes) > 15
        for cls in classes:
            out = translate_error(cls("m"), target)
            assert out is not None and str(out) == "m"
            nearest = next(b.__name__ for b in cls.__mro__ if hasattr(target, b.__name__))
            assert type(out) is getattr(target, nearest)
            assert nearest == cls.__name__ or cls.__name__ == "SSEError"


def test_a_subclass_maps_to_its_nearest_known_base() -> None:
    class ReplayMiss(httpx.TransportError):
        pass

    assert type(translate_error(ReplayMiss("no match"), httpx2)) is httpx2.TransportError
    assert translate_error(ValueError("x"), httpx2) is None


def test_async_clients_over_a_sync_transport() -> None:
    inner = Recorder()

    async def main() -> tuple[bytes, bytes]:
        async with httpx2.AsyncClient(transport=AsyncHttpx2Transport(inner)) as c2:
            r2 = await c2.post("https://x/", json={"n": 2})
        async with (
            httpx.AsyncClient(transport=AsyncHttpxTransport(inner)) as c1,
            c1.stream("POST", "https://x/", json={"n": 1}) as r1,
        ):
            body1 = b"".join([chunk async for chunk in r1.aiter_raw()])
        return r2.content, body1

    content2, content1 = asyncio.run(main())
    assert content2 == content1 == b"data: 1\n\ndata: 2\n\n"
    assert [r.content for r in inner.requests] == [b'{"n":2}', b'{"n":1}']


def test_async_errors_keep_their_class() -> None:
    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncHttpxTransport(Recorder(raises=httpx.ConnectError("no")))) as c:
            await c.get("https://x/")

    with pytest.raises(httpx.ConnectError, match="no"):
        asyncio.run(main())
