"""The clock a program's cell serves its fault delays on: the cell clock, waited out for real.

A program sleeps on the wall clock and reads its own sockets, so a ``timeout`` or ``stall`` fault
must really hold its answer back; the metering and the cassette stay on the cell clock, so every
number in the metrics snapshot is the same as for an in-process agent. ``WallWaits.sleep`` moves
the cell clock first (the call that waits is measured as waiting at once, and a retry the program
sends meanwhile starts after it), then waits on the wall clock until the time is up or the cell
has ended (``stop``): a handler thread never outlives its cell by a stall.
"""

from __future__ import annotations

import threading

from agent_runtime.clock import Clock

__all__ = ["WallWaits"]


class WallWaits:
    __slots__ = ("_clock", "_stop")

    def __init__(self, clock: Clock, stop: threading.Event) -> None:
        self._clock = clock
        self._stop = stop

    def now(self) -> float:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._clock.sleep(seconds)
            self._stop.wait(seconds)
