"""The live upstream: real provider endpoints, one shared connection pool, a call budget."""

from __future__ import annotations

import httpx


class LiveBudgetExhausted(httpx.TransportError):
    """More live calls than ``--kylecode-max-live-calls`` allows."""


class LiveTransport(httpx.BaseTransport):
    """One ``httpx.HTTPTransport`` (one SSL context) for the whole session, capped at ``max_calls``."""

    def __init__(self, max_calls: int) -> None:
        self._inner = httpx.HTTPTransport(retries=0)
        self.max_calls = max_calls
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.calls >= self.max_calls:
            raise LiveBudgetExhausted(
                f"live call budget exhausted ({self.max_calls} calls, --kylecode-max-live-calls)", request=request)
        self.calls += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
