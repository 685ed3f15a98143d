"""The wire module of each protocol and provider."""

from __future__ import annotations

import pytest

from pytest_kylecode.wire import for_provider


@pytest.mark.parametrize(
    ("provider", "event_line"),
    [
        ("openrouter", b"data: "),
        ("groq", b"event: error\n"),
        ("deepseek", b"data: "),
        ("moonshot-anthropic", b"event: error\n"),
        ("openai-responses", b"event: error\n"),
    ],
)
def test_wire_module_by_provider(provider: str, event_line: bytes) -> None:
    wire = for_provider(provider)
    assert wire.stream_error_event(provider).startswith(event_line)
    with pytest.raises(ValueError, match="unknown provider"):
        for_provider("openai-chat")
