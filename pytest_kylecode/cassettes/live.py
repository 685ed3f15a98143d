"""The live upstream: real provider endpoints, one shared connection pool, a call budget.

``--kylecode-max-live-calls N`` caps the calls to live providers of one pytest run. Under xdist
every worker has its own ``LiveTransport``, so the count is kept in a small counter file, locked
per call, that all workers of the run share (named after xdist's ``testrunuid``); a single process
counts in memory.

A call over the budget raises ``LiveBudgetExhausted``; a call to a provider whose key variable is
unset (and whose base URL is not overridden) raises ``LiveKeyMissing`` before anything is sent,
so no keyless request ever reaches a real host (a failover route the user holds no key for).
Both are ``LiveRefusal`` s, deliberately *not* ``httpx.TransportError`` s: the runtime would
classify those as connection failures, retry and fall back, and the cell would record a run that
never happened. Instead the exception leaves the runtime, the cell fails saying so, and no
cassette is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from agent_runtime.providers import PROVIDERS, Provider
from pytest_kylecode.failures import LiveBudgetExhausted, LiveKeyMissing

try:
    import fcntl
except ImportError:  # Windows: each process counts its own calls
    fcntl = None  # type: ignore[assignment]  # the module is absent there, not None


class CallBudget:
    """At most ``limit`` calls, counted in memory or, with ``path``, in a file shared by processes."""

    def __init__(self, limit: int, path: Path | None = None) -> None:
        self.limit = limit
        self.path = path
        self.used = 0  # calls this process took

    def take(self) -> bool:
        """Count one call; False (and nothing counted) when the budget is spent."""
        if self.path is not None and fcntl is not None:
            if not self._take_shared(self.path):
                return False
        elif self.used >= self.limit:
            return False
        self.used += 1
        return True

    def _take_shared(self, path: Path) -> bool:
        assert fcntl is not None
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 32).strip()
            total = int(raw) if raw.isdigit() else 0
            if total >= self.limit:
                return False
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(total + 1).encode())
            return True
        finally:
            os.close(fd)  # closing the descriptor releases the lock


class LiveTransport(httpx.BaseTransport):
    """One ``httpx.HTTPTransport`` (one SSL context) for the whole session, within ``budget``."""

    def __init__(self, max_calls: int, *, counter: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self._inner = httpx.HTTPTransport(retries=0)
        self.budget = CallBudget(max_calls, counter)
        self.exhausted = False
        self._env = os.environ if env is None else env

    @property
    def max_calls(self) -> int:
        return self.budget.limit

    @property
    def calls(self) -> int:
        return self.budget.used

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        provider = _keyless_provider(request.url, self._env)
        if provider is not None:
            raise LiveKeyMissing(
                f"{provider.key_env} is not set: refused {request.method} {request.url.copy_with(query=None)} "
                f"(a {provider.name} endpoint) before sending it; export {provider.key_env}, or point "
                f"{provider.base_url_env} at another upstream"
            )
        if not self.budget.take():
            self.exhausted = True
            raise LiveBudgetExhausted(
                f"live call budget exhausted: {self.max_calls} calls to live providers "
                f"(--kylecode-max-live-calls {self.max_calls}) were already made by this run; "
                f"refused {request.method} {request.url.copy_with(query=None)}"
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _keyless_provider(url: httpx.URL, env: Mapping[str, str]) -> Provider | None:
    """The provider whose real endpoint ``url`` is, when its key is unset and its base URL not overridden."""
    target = str(url.copy_with(query=None))
    for provider in PROVIDERS.values():
        if (
            target == provider.canonical_endpoint()
            and not env.get(provider.key_env)
            and not env.get(provider.base_url_env)
        ):
            return provider
    return None
