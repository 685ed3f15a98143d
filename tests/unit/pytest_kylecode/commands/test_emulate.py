"""``kylecode emulate``'s transport: the emulator, behind a fault only when one is asked for."""

from __future__ import annotations

from pytest_kylecode.emulator import EmulatorTransport, parse_script


def test_fault_hook_wraps_the_emulator_only_when_asked() -> None:
    from agent_runtime.clock import SystemClock
    from pytest_kylecode.commands.emulate import serve_transport
    from pytest_kylecode.faults.catalog import FaultSpec
    from pytest_kylecode.faults.transport import FaultTransport

    inner = EmulatorTransport(parse_script([{"text": "hi"}]))
    assert serve_transport(inner, None, SystemClock()) is inner
    assert serve_transport(inner, FaultSpec("none"), SystemClock()) is inner
    wrapped = serve_transport(inner, FaultSpec("http_429", route="any"), SystemClock())
    assert isinstance(wrapped, FaultTransport) and wrapped.inner is inner
