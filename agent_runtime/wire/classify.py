"""Protocol-independent error classification into ``errors.CATEGORIES``.

What any HTTP answer or transport failure means before anyone reads the provider's
error body: status codes, HTML gateway pages (``html_response`` whatever the status,
``200`` included), bodies that are empty or not JSON, ``Retry-After`` /
``retry-after-ms``, and the exceptions httpx raises. Protocol modules call
``classify_http`` and then refine with what only they know (OpenRouter's "No endpoints
found that support tool use", Anthropic's ``overloaded_error``, Z.ai's code ``1261``...),
using the body-level helpers at the bottom of this module.

Foreign exceptions are translated in one table, ``EXCEPTION_CATEGORIES``; a test checks
that it covers every transport exception class httpx defines.
"""

from __future__ import annotations

import email.utils
import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypedDict

import httpx

from agent_runtime.errors import ProviderError
from agent_runtime.wire.accumulator import Accumulator

if TYPE_CHECKING:
    from agent_runtime.messages import ModelResponse

__all__ = [
    "EXCEPTION_CATEGORIES",
    "SHAPE_ERRORS",
    "ErrorFields",
    "category_for_status",
    "classify_exception",
    "classify_http",
    "error_fields",
    "is_html",
    "message_category",
    "never_raises",
    "parse_retry_after",
]

STATUS_CATEGORIES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "auth",
    402: "auth",  # billing: not retryable, needs a human, like bad credentials
    403: "auth",
    404: "not_found",
    408: "timeout",
    409: "server_error",  # a conflict the SDKs retry
    413: "context_length",  # request too large: shrinking the conversation is the only cure
    422: "bad_request",
    429: "rate_limit",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
    529: "overloaded",
}


def category_for_status(status: int) -> str:
    """The category of an HTTP error status before its body is read."""
    category = STATUS_CATEGORIES.get(status)
    if category is not None:
        return category
    return "bad_request" if 400 <= status < 500 else "server_error"


# -- bodies -------------------------------------------------------------------------------------

# What parsing a body of an unexpected shape (a string where an object belongs, a list too
# short...) raises: such a body is ``invalid_json``, never an exception out of the parser.
SHAPE_ERRORS: Final = (AttributeError, TypeError, KeyError, IndexError)


def never_raises(parse: Callable[[Any], ModelResponse]) -> Callable[[Any], ModelResponse]:
    """Wrap a protocol's JSON-body parser so that a body of an unexpected shape becomes an
    ``invalid_json`` response, as a stream event of that shape is in the stream decoders."""

    @functools.wraps(parse)
    def guarded(body: Any) -> ModelResponse:
        try:
            return parse(body)
        except SHAPE_ERRORS as exc:
            acc = Accumulator()
            acc.fail("invalid_json", f"unexpected response shape ({type(exc).__name__}: {exc})")
            return acc.response()

    return guarded


_HTML_STARTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<title", b"<center")


def is_html(body: bytes, content_type: str | None = None) -> bool:
    """An HTML page (gateway error, login wall...), by content type or by its first bytes."""
    if content_type and "html" in content_type.lower():
        return True
    start = body[:256].lstrip().lower()
    return start.startswith(_HTML_STARTS)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred, as the SDKs do) or ``retry-after``
    (seconds, or an HTTP date relative to ``now``, epoch seconds, default the wall clock)."""
    value = _header(headers, "retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)  # raises ValueError for what is no date
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts from tests or cassettes may keep the original casing
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _content_type(headers: Mapping[str, str]) -> str | None:
    return _header(headers, "content-type")


def classify_http(status: int, headers: Mapping[str, str], body: bytes) -> tuple[ProviderError, Any]:
    """A failed HTTP answer -> (error classified without protocol knowledge, parsed JSON body or None).

    HTML wins over the status (a 502 gateway page and a 200 login page are both
    ``html_response``). An error status keeps its status category even when the body is
    empty or not JSON; a 2xx with an empty body is ``empty_response``, one that does not
    parse ``invalid_json``. The JSON body is returned so the protocol can refine.
    """
    retry_after = parse_retry_after(headers)
    if is_html(body, _content_type(headers)):
        return ProviderError(
            "html_response",
            f"HTTP {status} with an HTML page: {_excerpt(body)}",
            status=status,
            retry_after=retry_after,
        ), None
    parsed: Any = None
    if body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    ok = 200 <= status < 300
    if ok and not body.strip():
        category, message = "empty_response", f"HTTP {status} with an empty body"
    elif ok and parsed is None:
        category, message = "invalid_json", f"HTTP {status} with a body that is not JSON: {_excerpt(body)}"
    else:
        category = "server_error" if ok else category_for_status(status)
        fields = error_fields(parsed)
        message = f"HTTP {status}: {fields['message'] or _excerpt(body) or 'no body'}"
    return ProviderError(category, message, status=status, retry_after=retry_after), parsed


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace").strip()
    return " ".join(text.split()) + ("..." if len(body) > limit else "")


class ErrorFields(TypedDict):
    """The common fields of an error body (``error_fields``); missing ones are ``None`` / ``""``."""

    message: str
    type: str | None
    code: object  # as the provider sent it: a string, a number, null...
    param: str | None
    status: int | None
    raw: str | None  # OpenRouter: the upstream provider's own message


def error_fields(body: object) -> ErrorFields:
    """The common fields of an error body, whatever its shape.

    Handles ``{"error": {"message","type","code","param",...}}`` (OpenAI family, OpenRouter,
    Anthropic's ``{"type":"error","error":{...}}``), a flat ``{"message","type","code"}``
    (Responses ``error`` events), and ``{"error": "text"}``. Missing fields are ``None``/``""``.
    """
    inner = body
    if isinstance(body, Mapping) and "error" in body:
        inner = body["error"]
    if isinstance(inner, str):
        return {"message": inner, "type": None, "code": None, "param": None, "status": None, "raw": None}
    if not isinstance(inner, Mapping):
        return {"message": "", "type": None, "code": None, "param": None, "status": None, "raw": None}
    message = inner.get("message")
    metadata = inner.get("metadata")
    return {
        "message": message if isinstance(message, str) else "",
        "type": inner.get("type") if isinstance(inner.get("type"), str) else None,
        "code": inner.get("code"),
        "param": inner.get("param") if isinstance(inner.get("param"), str) else None,
        "status": inner.get("status_code") if isinstance(inner.get("status_code"), int) else None,
        # OpenRouter wraps the upstream provider's own message in metadata.raw
        "raw": metadata.get("raw") if isinstance(metadata, Mapping) and isinstance(metadata.get("raw"), str) else None,
    }


# Phrases providers use for an over-long conversation (OpenAI, DeepSeek, OpenRouter,
# Anthropic, Z.ai, Responses); lower-cased substring match.
_CONTEXT_PHRASES: Final = (
    "maximum context length",
    "context_length_exceeded",
    "context length",
    "context window",
    "prompt is too long",
    "exceed context limit",
    "prompt exceeds max length",
    "input is too long",
    "too many tokens",
)
_OVERLOAD_PHRASES: Final = ("overloaded",)
_RATE_PHRASES: Final = ("rate limit", "rate-limit", "too many requests", "rate_limit")


# Phrases of a route refusing native tools: OpenRouter's 404 "No endpoints found that support
# tool use", OpenAI's "'tools' is not supported with this model", and the plain forms.
_TOOLS_PHRASES: Final = (
    "support tool use",
    "tool use is not supported",
    "'tools' is not supported",
    "tools is not supported",
    "tools are not supported",
    "does not support tools",
    "function calling is not supported",
    "does not support function calling",
)


def message_category(text: str) -> str | None:
    """A category that an error message states outright, or None."""
    lowered = text.lower()
    if any(p in lowered for p in _TOOLS_PHRASES):
        return "tools_unsupported"
    if any(p in lowered for p in _CONTEXT_PHRASES):
        return "context_length"
    if any(p in lowered for p in _OVERLOAD_PHRASES):
        return "overloaded"
    if any(p in lowered for p in _RATE_PHRASES):
        return "rate_limit"
    return None


# -- exceptions ---------------------------------------------------------------------------------

# Most specific first: the first class the exception is an instance of decides.
# (class, category before the response started, category once body bytes were flowing)
EXCEPTION_CATEGORIES: Final[tuple[tuple[type[BaseException], str, str], ...]] = (
    (httpx.ConnectTimeout, "timeout", "timeout"),
    (httpx.ReadTimeout, "timeout", "timeout"),
    (httpx.WriteTimeout, "timeout", "timeout"),
    (httpx.PoolTimeout, "timeout", "timeout"),
    (httpx.TimeoutException, "timeout", "timeout"),
    (httpx.ConnectError, "connection", "connection"),
    (httpx.ReadError, "connection", "stream_truncated"),
    (httpx.WriteError, "connection", "connection"),
    (httpx.CloseError, "connection", "stream_truncated"),
    (httpx.NetworkError, "connection", "stream_truncated"),
    (httpx.RemoteProtocolError, "connection", "stream_truncated"),  # peer closed mid-body
    (httpx.LocalProtocolError, "connection", "connection"),
    (httpx.ProtocolError, "connection", "stream_truncated"),
    (httpx.ProxyError, "connection", "connection"),
    (httpx.UnsupportedProtocol, "connection", "connection"),
    (httpx.DecodingError, "invalid_json", "invalid_json"),  # a body whose content-encoding is broken
    (httpx.TooManyRedirects, "server_error", "server_error"),
    (httpx.TransportError, "connection", "stream_truncated"),
    (OSError, "connection", "stream_truncated"),  # sockets under a custom transport
)


def classify_exception(exc: BaseException, *, mid_stream: bool = False) -> ProviderError | None:
    """A transport exception -> ProviderError; ``None`` for exceptions that are not transport failures."""
    for cls, before, during in EXCEPTION_CATEGORIES:
        if isinstance(exc, cls):
            category = during if mid_stream else before
            where = "while reading the body" if mid_stream else "before the response"
            return ProviderError(category, f"{type(exc).__name__} {where}: {exc}".rstrip(": "))
    return None
