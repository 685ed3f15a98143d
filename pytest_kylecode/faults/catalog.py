"""The fault catalog (docs/design.md) and fault specs as scenarios write them.

A fault is a name or a mapping ``{kind, at, times, route[, ms]}``. It hits calls
``at`` .. ``at + times - 1`` among the calls to the routes it targets. In ids and
in ``when:`` a mapping fault is named by its kind plus its non-default keys:
``{kind: http_503, times: 5}`` is ``http_503-times=5``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

FaultFamily = Literal["none", "http", "transport", "delay", "stream", "content"]

# Every fault kind, in the catalog's order, with how it is injected (faults.transport):
# http: answered with an HTTP response of its own in the request's wire shape
#       (``wire.<protocol>.error_response``); the request never reaches the source.
# transport: the connection fails.  delay: the genuine answer, late.
# stream: the genuine stream reshaped event by event.  content: the genuine answer rewritten.
CATALOG: Final[dict[str, FaultFamily]] = {
    "none": "none",
    "http_400": "http",
    "http_401": "http",
    "http_404": "http",
    "http_429": "http",
    "http_500": "http",
    "http_502": "http",
    "http_503": "http",
    "http_529": "http",
    "html_200": "http",
    "html_502": "http",
    "invalid_json": "http",
    "empty_response": "http",
    "connect_error": "transport",
    "timeout": "delay",
    "stall": "stream",
    "truncated_stream": "stream",
    "sse_error": "stream",
    "malformed_sse": "stream",
    "malformed_tool_args": "content",
    "duplicate_tool_args": "content",
    "missing_tool_call_id": "content",
    "tools_unsupported": "http",
    "context_length": "http",
    "content_filter": "content",
    "latency": "delay",
}
FAULT_KINDS: Final = tuple(CATALOG)
HTTP_ANSWER_KINDS: Final = frozenset(kind for kind, family in CATALOG.items() if family == "http")
# Faults that only exist inside a stream, and faults that need native tool calls.
STREAM_ONLY: Final = frozenset(kind for kind, family in CATALOG.items() if family == "stream")
NATIVE_ONLY: Final = frozenset({"duplicate_tool_args", "missing_tool_call_id", "tools_unsupported"})

FAULT_KEYS: Final = ("kind", "at", "times", "route", "ms")
DEFAULT_LATENCY_MS: Final = 1000


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str = "none"
    at: int = 1
    times: int = 1
    route: str = "primary"  # "primary" (the cell's matrix provider), "any", or a route name
    ms: int | None = None  # latency only

    @property
    def id(self) -> str:
        parts = [self.kind]
        if self.at != 1:
            parts.append(f"at={self.at}")
        if self.times != 1:
            parts.append(f"times={self.times}")
        if self.route != "primary":
            parts.append(f"route={self.route}")
        if self.ms is not None:
            parts.append(f"ms={self.ms}")
        return "-".join(parts)

    def applies_to(self, *, streaming: bool, tool_mode: str) -> bool:
        """False for combinations the catalog rules out (reported as not applicable)."""
        if self.kind in STREAM_ONLY:
            return streaming
        if self.kind in NATIVE_ONLY:
            return tool_mode == "native"
        return True

    def hits(self, call_number: int) -> bool:
        """Whether the ``call_number``-th call (1-based) among targeted calls is faulted."""
        return self.kind != "none" and self.at <= call_number < self.at + self.times

    @property
    def latency_ms(self) -> int:
        return self.ms if self.ms is not None else DEFAULT_LATENCY_MS
