"""The emulator's public names."""

from __future__ import annotations


def test_public_api_is_exported() -> None:
    import pytest_kylecode.emulator as emulator

    assert set(emulator.__all__) >= {
        "EmulatorTransport",
        "Turn",
        "parse_script",
        "turn_index",
        "pick_turn",
        "respond",
        "for_protocol",
        "for_provider",
        "WireResponse",
        "Timing",
    }
    assert all(hasattr(emulator, name) for name in emulator.__all__)
