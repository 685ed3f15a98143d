"""The fault catalog (DESIGN.md section 5) and fault specs as scenarios write them.

A fault is a name or a mapping ``{kind, at, times, route[, ms]}``. It hits calls
``at`` .. ``at + times - 1`` among the calls to the routes it targets. In ids and
in ``when:`` a mapping fault is named by its kind plus its non-default keys:
``{kind: http_503, times: 5}`` is ``http_503-times=5``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FAULT_KINDS: Final = (
    "none",
    "http_400",
    "http_401",
    "http_404",
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_529",
    "html_200",
    "html_502",
    "invalid_json",
    "empty_response",
    "connect_error",
    "timeout",
    "stall",
    "truncated_stream",
    "sse_error",
    "malformed_sse",
    "malformed_tool_args",
    "duplicate_tool_args",
    "missing_tool_call_id",
    "tools_unsupported",
    "context_length",
    "content_filter",
    "latency",
)
# Faults answered with an HTTP response of their own (the request never reaches the source), in the
# wire shape of the request's protocol (``wire.<protocol>.error_response``).
HTTP_ANSWER_KINDS: Final = frozenset(
    {
        "http_400",
        "http_401",
        "http_404",
        "http_429",
        "http_500",
        "http_502",
        "http_503",
        "http_529",
        "html_200",
        "html_502",
        "tools_unsupported",
        "context_length",
        "invalid_json",
        "empty_response",
    }
)
# Faults that only exist inside a stream, and faults that need native tool calls.
STREAM_ONLY: Final = frozenset({"stall", "truncated_stream", "sse_error", "malformed_sse"})
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
