"""Protocol-independent classification: statuses, HTML, bodies, Retry-After, transport exceptions."""

from __future__ import annotations

import email.utils
import inspect

import httpx
import pytest

from agent_runtime.errors import CATEGORIES
from agent_runtime.wire.classify import (
    EXCEPTION_CATEGORIES,
    category_for_status,
    classify_exception,
    classify_http,
    error_fields,
    is_html,
    message_category,
    parse_retry_after,
)

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (403, "auth"),
        (404, "not_found"),
        (408, "timeout"),
        (413, "context_length"),
        (418, "bad_request"),
        (422, "bad_request"),
        (429, "rate_limit"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
        (504, "server_error"),
        (529, "overloaded"),
        (599, "server_error"),
    ],
)
def test_status_categories(status: int, category: str) -> None:
    assert category_for_status(status) == category
    error, _ = classify_http(status, JSON, b'{"error": {"message": "nope"}}')
    assert (error.category, error.status, error.message) == (category, status, f"HTTP {status}: nope")


@pytest.mark.parametrize("status", [200, 502, 503])
def test_html_is_html_response_whatever_the_status(status: int) -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
    assert classify_http(status, {"content-type": "text/html; charset=utf-8"}, page)[0].category == "html_response"
    # a gateway that mislabels its page as JSON is sniffed by the body
    assert classify_http(status, JSON, b"  \n<html><body>oops</body></html>")[0].category == "html_response"


def test_is_html() -> None:
    assert is_html(b"", "text/html")
    assert is_html(b"<HTML>", None)
    assert not is_html(b'{"html": "<b>"}', "application/json")
    assert not is_html(b"data: {}\n\n", "text/event-stream")


def test_2xx_bodies_empty_and_invalid_json() -> None:
    assert classify_http(200, JSON, b"")[0].category == "empty_response"
    assert classify_http(200, JSON, b" \n")[0].category == "empty_response"
    error, parsed = classify_http(200, JSON, b'{"id": "x", ')
    assert (error.category, parsed) == ("invalid_json", None)


def test_error_status_keeps_its_category_with_an_empty_or_text_body() -> None:
    assert classify_http(503, {}, b"")[0].category == "server_error"
    error, parsed = classify_http(429, {"content-type": "text/plain"}, b"slow down")
    assert (error.category, parsed, error.message) == ("rate_limit", None, "HTTP 429: slow down")


def test_parsed_body_is_returned_for_refinement() -> None:
    _, parsed = classify_http(404, JSON, b'{"error": {"message": "m", "code": 404}}')
    assert parsed == {"error": {"message": "m", "code": 404}}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "1"}, 1.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # -ms wins, as in the SDKs
        ({"retry-after-ms": "junk", "retry-after": "4"}, 4.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_http_date() -> None:
    now = 1_780_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == 30.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 30, usegmt=True)}, now=now) == 0.0


def test_classify_http_carries_retry_after() -> None:
    error, _ = classify_http(429, {"retry-after": "1", **JSON}, b'{"error": {"message": "slow"}}')
    assert (error.category, error.retry_after) == ("rate_limit", 1.0)


def test_error_fields_shapes() -> None:
    assert error_fields({"error": {"message": "m", "type": "t", "code": "c"}})["code"] == "c"
    anthropic = error_fields({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert (anthropic["type"], anthropic["message"]) == ("overloaded_error", "Overloaded")
    flat = error_fields({"type": "error", "code": "server_error", "message": "boom"})
    assert (flat["code"], flat["message"]) == ("server_error", "boom")
    openrouter = error_fields(
        {"error": {"code": 429, "message": "Provider returned error", "metadata": {"raw": "upstream rate-limited"}}}
    )
    assert (openrouter["code"], openrouter["raw"]) == (429, "upstream rate-limited")
    groq = error_fields({"error": {"message": "m", "code": "tool_use_failed", "status_code": 400}})
    assert groq["status"] == 400
    assert error_fields({"error": "plain text"})["message"] == "plain text"
    assert error_fields([1])["message"] == ""


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("This model's maximum context length is 4097 tokens.", "context_length"),
        ("prompt is too long: 200251 tokens > 200000 maximum", "context_length"),
        ("Prompt exceeds max length", "context_length"),
        ("Your input exceeds the context window of this model.", "context_length"),
        ("The engine is currently overloaded", "overloaded"),
        ("Rate limit reached for gpt-4o on tokens per min (TPM)", "rate_limit"),
        ("No endpoints found that support tool use. To learn more about provider routing", "tools_unsupported"),
        ("Unsupported parameter: 'tools' is not supported with this model.", "tools_unsupported"),
        ("Token limit reached", None),
        ("Internal server error", None),
    ],
)
def test_message_category(text: str, category: str | None) -> None:
    assert message_category(text) == category


# -- transport exceptions -----------------------------------------------------------------------------

REQUEST = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")


@pytest.mark.parametrize(
    ("exc", "before", "during"),
    [
        (httpx.ConnectError("refused", request=REQUEST), "connection", "connection"),
        (httpx.ConnectTimeout("slow", request=REQUEST), "timeout", "timeout"),
        (httpx.ReadTimeout("slow", request=REQUEST), "timeout", "timeout"),
        (httpx.PoolTimeout("pool", request=REQUEST), "timeout", "timeout"),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=REQUEST),
            "connection",
            "stream_truncated",
        ),
        (httpx.ReadError("reset", request=REQUEST), "connection", "stream_truncated"),
        (httpx.WriteError("broken pipe", request=REQUEST), "connection", "connection"),
        (httpx.ProxyError("proxy", request=REQUEST), "connection", "connection"),
        (httpx.UnsupportedProtocol("ftp", request=REQUEST), "connection", "connection"),
        (httpx.DecodingError("bad gzip", request=REQUEST), "invalid_json", "invalid_json"),
        (ConnectionResetError("reset by peer"), "connection", "stream_truncated"),
    ],
)
def test_transport_exceptions(exc: Exception, before: str, during: str) -> None:
    assert classify_exception(exc).category == before  # type: ignore[union-attr]
    error = classify_exception(exc, mid_stream=True)
    assert error is not None and error.category == during and error.status is None
    assert type(exc).__name__ in error.message


def test_non_transport_exceptions_are_not_classified() -> None:
    assert classify_exception(ValueError("bug")) is None
    assert classify_exception(KeyError("bug")) is None


def test_exception_table_covers_every_httpx_transport_exception() -> None:
    """Every concrete transport exception httpx defines has an entry of its own or its family's."""
    transport_errors = [
        obj for _, obj in inspect.getmembers(httpx, inspect.isclass) if issubclass(obj, httpx.TransportError)
    ]
    assert len(transport_errors) >= 15  # the httpx tree is really being walked
    listed = {cls for cls, _, _ in EXCEPTION_CATEGORIES}
    for cls in transport_errors:
        parents = [base for base in cls.__mro__ if base in listed]
        assert parents, f"{cls.__name__} is not covered by EXCEPTION_CATEGORIES"
        # the first matching row is the most specific one (no row shadows a subclass listed later)
        rows = [row_cls for row_cls, _, _ in EXCEPTION_CATEGORIES if issubclass(cls, row_cls)]
        assert rows[0] is parents[0], f"{cls.__name__}: row {rows[0].__name__} shadows {parents[0].__name__}"
    for _, before, during in EXCEPTION_CATEGORIES:
        assert before in CATEGORIES and during in CATEGORIES
