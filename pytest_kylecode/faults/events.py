"""Stream faults: wrappers around a response body, one SSE event at a time.

They work on any source (cassette replay, emulator, live recording) because
they only cut, pause or insert whole events: the inner stream is re-cut at
event boundaries, and a protocol's own wire module says which event carries
the finish and what its in-band error and broken line look like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

from agent_runtime.clock import Clock


def iter_events(stream: httpx.SyncByteStream) -> Iterator[bytes]:
    """The inner body re-cut into whole SSE events (a trailing partial event comes last, as is)."""
    buffer = b""
    for chunk in stream:
        buffer += chunk
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            yield buffer[: end + 2]
            buffer = buffer[end + 2 :]
    if buffer:
        yield buffer


class EventStream(httpx.SyncByteStream):
    """A body produced by ``produce(events)`` from the inner body's events; closes the inner stream."""

    def __init__(self, inner: httpx.SyncByteStream, produce: Callable[[Iterator[bytes]], Iterator[bytes]]) -> None:
        self._inner = inner
        self._produce = produce

    def __iter__(self) -> Iterator[bytes]:
        yield from self._produce(iter_events(self._inner))

    def close(self) -> None:
        self._inner.close()


def stall(clock: Clock, after: int, pause: float) -> Callable[[Iterator[bytes]], Iterator[bytes]]:
    """``after`` events, then silence for ``pause`` seconds with the connection open, then the rest."""

    def produce(events: Iterator[bytes]) -> Iterator[bytes]:
        for n, event in enumerate(events):
            if n == after:
                clock.sleep(pause)
            yield event

    return produce


def truncate(is_finish: Callable[[bytes], bool]) -> Callable[[Iterator[bytes]], Iterator[bytes]]:
    """Every event before the one carrying the finish; then the connection ends."""

    def produce(events: Iterator[bytes]) -> Iterator[bytes]:
        for event in events:
            if is_finish(event):
                return
            yield event

    return produce


def replace_tail(after: int, tail: bytes, *, keep_rest: bool) -> Callable[[Iterator[bytes]], Iterator[bytes]]:
    """``after`` events, then ``tail``; then the rest of the stream (``keep_rest``) or its end.

    ``after`` is capped so the tail always comes before the finish of a short stream.
    """

    def produce(events: Iterator[bytes]) -> Iterator[bytes]:
        buffered = list(events)
        cut = min(after, max(len(buffered) - 2, 1))
        yield from buffered[:cut]
        yield tail
        if keep_rest:
            yield from buffered[cut:]

    return produce
