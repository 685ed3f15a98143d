"""The provider emulator: a scripted model that speaks the real wire protocols.

In process it is an httpx transport (``EmulatorTransport``); out of process it is a loopback
HTTP server (``emulator.server.EmulatorServer``, ``kylecode emulate``) that any client, official SDKs included,
can talk to. Protocol knowledge (rendering, error bodies, in-stream errors) is in ``wire``.
"""

from __future__ import annotations

from .script import ScriptedCall, ScriptedUsage, Turn, parse_script, pick_turn, turn_index
from .transport import EmulatorTransport, protocol_for_path, respond
from .wire import DEFAULT_TIMING, IMMEDIATE, Timing, WireResponse, for_protocol, for_provider

__all__ = [
    "DEFAULT_TIMING", "IMMEDIATE", "EmulatorTransport", "ScriptedCall", "ScriptedUsage", "Timing", "Turn",
    "WireResponse", "for_protocol", "for_provider", "parse_script", "pick_turn", "protocol_for_path", "respond",
    "turn_index",
]
