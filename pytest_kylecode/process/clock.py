"""The clock a program's cell serves its fault delays on: the cell clock, then the wall clock.

A program sleeps on the wall clock and reads its own sockets, so a ``timeout`` or ``stall`` fault
must really hold its answer back; the metering and the cassette stay on the cell clock, so every
number in the metrics snapshot is the same as for an in-process agent. ``WallWaits.sleep`` moves
the cell clock at once and notes the seconds as owed by the thread that slept; the loopback side
(``serve.UpstreamRoute``, above the metering) pays them on the wall clock with ``pay()`` before it
hands on what the stack produced. So the metering has measured a call (a timeout included) before
the program has waited for it, and a retry the program sends after its own timeout comes after
that call in the metrics, as it does in-process. ``stop`` (the cell has ended) cuts any wait short.
"""

from __future__ import annotations

import threading

from agent_runtime.clock import Clock

__all__ = ["WallWaits"]


class _Owed(threading.local):
    seconds = 0.0


class WallWaits:
    __slots__ = ("_clock", "_owed", "_stop")

    def __init__(self, clock: Clock, stop: threading.Event) -> None:
        self._clock = clock
        self._stop = stop
        self._owed = _Owed()

    def now(self) -> float:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._clock.sleep(seconds)
            self._owed.seconds += seconds

    def pay(self) -> None:
        """Wait, on the wall clock, what this thread slept on the cell clock since it last paid."""
        owed, self._owed.seconds = self._owed.seconds, 0.0
        if owed > 0:
            self._stop.wait(owed)
