"""Clocks: the real one for production, a virtual one for the matrix.

Everything that waits (retry backoff, circuit cooldowns, stalls, latency) goes
through a ``Clock`` so that in tests a 30 s stall costs no wall time and every
number in a metrics snapshot is deterministic.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a virtual clock just advances)."""


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when something sleeps on it."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds

    advance = sleep


class FastForwardClock:
    """Real time for what really happens, no wall time for what is only simulated.

    ``now()`` is the real monotonic time plus every second slept so far; ``sleep`` waits
    for nothing and moves the clock on. Recording from a live provider runs on it: the
    provider's own answer time is real and measured, while a synthetic delay (a fault's
    stall or latency, a ``Retry-After``, a backoff) still reads as elapsed to every timeout
    that looks at this clock, at no cost in wall time.
    """

    __slots__ = ("_skipped",)

    def __init__(self) -> None:
        self._skipped = 0.0

    def now(self) -> float:
        return time.monotonic() + self._skipped

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._skipped += seconds
