"""Error categories and the exceptions of the runtime.

Exception tree::

    KylecodeError                 base of everything raised on purpose
    ├── ConfigError               a bad agent config / scenario value (names file:line and key)
    ├── ProviderError             one failed model call, classified into a category
    └── RunFailed                 the run gave up: recovery exhausted, fail-fast, or loop guard

Every provider failure is *classified* into exactly one canonical category (docs/design.md, error categories);
recovery policy, metrics, expectations and reports speak only these names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final

# The route itself misbehaved: these count against its health (circuit breaker) and are worth a
# retry or another route.
ROUTE_FAILURES: Final = (
    "rate_limit",
    "server_error",
    "overloaded",
    "html_response",
    "invalid_json",
    "empty_response",
    "connection",
    "timeout",
    "stream_truncated",
    "stream_error",
)
# The request or its content was refused, or the model's answer is unusable as asked: another
# attempt at the same request would meet the same answer.
REQUEST_FAILURES: Final = (
    "auth",
    "bad_request",
    "not_found",
    "tools_unsupported",
    "context_length",
    "content_filter",
    "malformed_tool_call",
)
CATEGORIES: Final = ROUTE_FAILURES + REQUEST_FAILURES


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """The hint every "unknown name" message ends with: `` (did you mean 'x'?)``, or nothing."""
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class KylecodeError(Exception):
    """Base class of the errors the runtime and the plugin raise on purpose."""


class ConfigError(KylecodeError):
    """A configuration value is wrong. ``where`` is ``file:line`` (or a key path) when known."""

    def __init__(self, message: str, *, where: str | None = None, key: str | None = None) -> None:
        self.where = where
        self.key = key
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key and key not in message else ""
        super().__init__(f"{prefix}{keypart}{message}")


class ProviderError(KylecodeError):
    """One model call failed. ``category`` is one of ``CATEGORIES``.

    ``retry_after`` is the server's requested wait in seconds (``Retry-After`` /
    ``retry-after-ms``), ``status`` the HTTP status (``None`` for transport errors).
    """

    def __init__(
        self,
        category: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        assert category in CATEGORIES, category
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message
        self.status = status
        self.retry_after = retry_after


class RunFailed(KylecodeError):
    """The agent run stopped without completing; ``category`` is the last error's category."""

    def __init__(self, category: str, message: str, *, outcome: str = "failed") -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message
        self.outcome = outcome
