from __future__ import annotations

import threading
import time

from agent_runtime.clock import VirtualClock
from pytest_kylecode.process.clock import WallWaits


def test_a_wait_moves_the_cell_clock_at_once_and_is_owed_to_the_wall_clock() -> None:
    cell = VirtualClock()
    waits = WallWaits(cell, threading.Event())
    waits.sleep(30.0)
    assert cell.now() == waits.now() == 30.0  # measured before anyone waited


def test_what_is_owed_is_paid_once_and_a_finished_cell_cuts_it_short() -> None:
    done = threading.Event()
    waits = WallWaits(VirtualClock(), done)
    waits.sleep(0.05)
    started = time.monotonic()
    waits.pay()
    assert time.monotonic() - started >= 0.05
    started = time.monotonic()
    waits.pay()  # paid already: nothing more
    assert time.monotonic() - started < 0.05
    waits.sleep(600.0)
    done.set()
    started = time.monotonic()
    waits.pay()
    assert time.monotonic() - started < 1.0


def test_what_one_thread_owes_another_does_not_pay() -> None:
    waits = WallWaits(VirtualClock(), threading.Event())
    waits.sleep(600.0)
    other = threading.Thread(target=waits.pay)
    started = time.monotonic()
    other.start()
    other.join()
    assert time.monotonic() - started < 1.0
