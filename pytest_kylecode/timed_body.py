"""Response bodies that arrive over (virtual) time.

Every source (cassette replay, emulator, fault injection) hands the runtime an
``httpx.Response`` whose body is a ``TimedByteStream``: chunks with offsets in
seconds from the moment the request was sent. Iterating sleeps on the cell's
clock until each chunk is due, so time-to-first-token and latency come out of
the recorded offsets and a virtual clock costs no wall time.
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
