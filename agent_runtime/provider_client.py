"""One HTTP call to one route.

``ProviderClient.call`` builds the protocol's request, sends it through the
injected ``httpx.Client`` (streaming or not), decodes the body with the
first-byte and idle timeouts measured on the clock, and classifies every
failure. It never raises for a provider failure: the ``CallRecord`` it returns
carries either ``response`` or ``error``, plus everything metrics, run logs and
telemetry need (timings, raw bytes, request as sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ProviderError
from .messages import ModelResponse


@dataclass(slots=True)
class CallRecord:
    route: str
    url: str
    request_headers: dict[str, str]  # as sent; redacted only when written anywhere
    request_body: dict
    stream: bool
    started: float  # clock time the request was sent
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""  # body bytes as received (decoded from gzip)
    latency_ms: float = 0.0  # request sent -> body complete (or failure)
    ttft_ms: float | None = None  # request sent -> first body byte
    response: ModelResponse | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
