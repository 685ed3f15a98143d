"""The provider emulator: a scripted model that speaks the real wire protocols.

In process it is an httpx transport (``EmulatorTransport``); out of process it is a loopback
HTTP server (``loopback.LoopbackServer``, ``kylecode emulate``) that any client, official SDKs included,
can talk to. Protocol knowledge (rendering, error bodies, in-stream errors, what a request says) is in
``pytest_kylecode.wire``, shared with the faults and the byo metering.
"""

from __future__ import annotations

from pytest_kylecode.emulator.script import ScriptedCall, ScriptedUsage, Turn, make_plan, parse_script, pick_turn
from pytest_kylecode.emulator.transport import EmulatorTransport, respond
from pytest_kylecode.wire import DEFAULT_TIMING, IMMEDIATE, Timing, WireResponse, for_protocol, for_provider
from pytest_kylecode.wire.requests import protocol_for_path, turn_index

__all__ = [
    "DEFAULT_TIMING",
    "IMMEDIATE",
    "EmulatorTransport",
    "ScriptedCall",
    "ScriptedUsage",
    "Timing",
    "Turn",
    "WireResponse",
    "for_protocol",
    "for_provider",
    "make_plan",
    "parse_script",
    "pick_turn",
    "protocol_for_path",
    "respond",
    "turn_index",
]
