"""Response bodies that arrive over (virtual) time.

Every source (cassette replay, emulator, fault injection) hands the runtime an
``httpx.Response`` whose body is a ``TimedByteStream``: chunks with offsets in
seconds from the moment the request was sent. Iterating sleeps on the cell's
clock until each chunk is due, so time-to-first-token and latency come out of
the recorded offsets and a virtual clock costs no wall time.

``sync_body`` is how the transport wrappers read a body they did not make: the response of a
sync transport, whose stream httpx types as sync *or* async.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx

from agent_runtime.clock import Clock


class TimedByteStream(httpx.SyncByteStream):
    __slots__ = ("_chunks", "_clock", "_start")

    def __init__(self, chunks: Sequence[tuple[float, bytes]], clock: Clock, start: float) -> None:
        self._chunks = chunks
        self._clock = clock
        self._start = start

    @property
    def chunks(self) -> Sequence[tuple[float, bytes]]:
        return self._chunks

    @property
    def start(self) -> float:
        return self._start

    def __iter__(self) -> Iterator[bytes]:
        clock, start = self._clock, self._start
        for offset, data in self._chunks:
            wait = start + offset - clock.now()
            if wait > 0:
                clock.sleep(wait)
            yield data


def sync_body(response: httpx.Response) -> httpx.SyncByteStream:
    """The body of a response from a sync transport (``handle_request``), as a sync stream.

    httpx's own ``Client`` requires the same of every sync transport; an async body here is a
    transport of the wrong kind, refused rather than half-read."""
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise TypeError(f"a sync transport answered with a {type(stream).__name__}, not a httpx.SyncByteStream")
    return stream
