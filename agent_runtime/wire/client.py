"""One HTTP call to one route.

``ProviderClient.call`` builds the protocol's request, sends it through the
injected ``httpx.Client`` (always as a stream), decodes the body with the
first-byte and idle timeouts measured on the clock, and classifies every
failure. It never raises for a provider failure: the ``CallRecord`` it returns
carries ``error`` (or none, for a success), plus everything metrics, run logs and
telemetry need (timings, raw bytes, request as sent).

``BodyDecoder`` turns the bytes of one HTTP response into a final message or a
classified error. ``ProviderClient`` feeds it chunk by chunk as they arrive; the
cassette normalizer (``kylecode inspect``) feeds it recorded bodies: one decoding
path for live calls, replays and inspection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import httpx

from agent_runtime.clock import Clock
from agent_runtime.config import Timeouts
from agent_runtime.errors import ProviderError
from agent_runtime.messages import JSONObject, ModelRequest, ModelResponse, StreamEvent
from agent_runtime.version import __version__
from agent_runtime.wire.classify import classify_exception, classify_http, is_html
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.sse import SSEDecoder

if TYPE_CHECKING:
    from agent_runtime.providers import Route
    from agent_runtime.wire.protocols import StreamDecoder, WireProtocol

__all__ = ["ROUTE_EXTENSION", "BodyDecoder", "CallRecord", "ProviderClient"]

# Request extension naming the route; cassettes use it to put an overridden base URL back.
ROUTE_EXTENSION: Final = "kylecode.route"
# First byte of an SSE body: a comment, "data:" or "event:" (JSON and HTML start otherwise).
_SSE_STARTS: Final = (b":", b"d", b"e")


@dataclass(slots=True)
class CallRecord:
    route: str
    url: str
    request_headers: dict[str, str]  # as sent; redacted only when written anywhere
    request_body: JSONObject  # as sent
    stream: bool
    started: float  # clock time the request was sent
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""  # body bytes as received (decoded from gzip)
    latency_ms: float = 0.0  # request sent -> body complete (or failure)
    ttft_ms: float | None = None  # request sent -> first body byte
    # The decoded message. Also kept next to an error when one was decoded (partial text
    # before an in-band error or a truncation, a content-filtered answer) for run logs.
    response: ModelResponse | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class BodyDecoder:
    """The bytes of one HTTP response -> ``(response, error)``.

    ``streaming`` is the request's stream flag; it only matters when the response has no
    usable content type. A 2xx ``text/event-stream`` body is decoded event by event as it is
    fed (``feed`` returns the canonical events); anything else is decoded at ``finish``.

    ``finish`` returns ``(None, error)`` when there is no message at all (HTTP error, HTML,
    empty or non-JSON body) and ``(response, error)`` otherwise, where ``error`` is set for
    an in-band error, a truncated stream, undecodable events, and a ``content_filter``
    finish: only a fully parsed, finished response comes back with ``error=None``.
    """

    __slots__ = ("_events", "_joined", "_parts", "_protocol", "_sse", "_stream", "headers", "status")

    def __init__(self, protocol: WireProtocol, status: int, headers: Mapping[str, str], *, streaming: bool) -> None:
        self._protocol = protocol
        self.status = status
        self.headers = headers
        self._parts: list[bytes] = []
        self._joined: bytes | None = None
        content_type = (headers.get("content-type") or "").lower()
        ok = 200 <= status < 300
        self._sse: SSEDecoder | None = None
        self._stream: StreamDecoder | None = None
        if ok and (
            "event-stream" in content_type or (streaming and "json" not in content_type and "html" not in content_type)
        ):
            self._sse = SSEDecoder()
            self._stream = protocol.stream_decoder()
        self._events = 0

    @property
    def body(self) -> bytes:
        """Every byte fed so far."""
        if self._joined is None:
            self._joined = b"".join(self._parts)
        return self._joined

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._parts.append(chunk)
        self._joined = None
        if self._sse is None or self._stream is None:
            return []
        out: list[StreamEvent] = []
        for event in self._sse.feed(chunk):
            self._events += 1
            out += self._stream.feed(event)
        return out

    def finish(self) -> tuple[ModelResponse | None, ProviderError | None]:
        status, body = self.status, self.body
        if not 200 <= status < 300:
            return None, self._protocol.classify_error(status, self.headers, body)
        if self._sse is not None:
            self._sse.close()
        if self._stream is not None and (self._events or body.lstrip()[:1] in _SSE_STARTS):
            response = self._stream.finish()  # a stream cut before its first complete event is truncated
        else:
            # Not SSE after all (a plain JSON answer, an HTML page or nothing under an
            # event-stream content type): judged as a whole body.
            if not body.strip() or is_html(body, self.headers.get("content-type")):
                return None, classify_http(status, self.headers, body)[0]
            try:
                parsed: Any = json.loads(body)
            except ValueError:
                return None, classify_http(status, self.headers, body)[0]  # invalid_json
            response = self._protocol.parse_response(parsed)
        if response.error is not None:
            return response, ProviderError(response.error.category, response.error.message, status=status)
        if response.finish_reason == "content_filter":
            return response, ProviderError(
                "content_filter",
                f"stopped by the provider's content filter (finish reason {response.raw_finish_reason!r})",
                status=status,
            )
        return response, None


class _Unset:
    pass


_FROM_ENV: Final = _Unset()


class ProviderClient:
    """Sends one ``ModelRequest`` to one route; see the module docstring for the contract.

    ``env`` supplies API keys (``provider.key_env``) and base-URL overrides
    (``KYLECODE_<PROVIDER>_BASE_URL``); default ``os.environ``. Timeouts: ``first_byte_s``
    bounds the clock time from send to the first body chunk, ``idle_s`` the gap between
    chunks (and after the last one); both are checked on ``clock`` (a ``VirtualClock``
    advanced by a stalled ``TimedByteStream`` trips them) and also passed to httpx, so a
    hung socket under the real clock is bounded too. A violation closes the response and
    records category ``timeout``.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        clock: Clock,
        timeouts: Timeouts,
        env: Mapping[str, str] | None = None,
        user_agent: str = f"kylecode/{__version__}",
    ) -> None:
        self._http = http
        self._clock = clock
        self._timeouts = timeouts
        self._env = os.environ if env is None else env
        self._user_agent = user_agent
        self._httpx_timeout = httpx.Timeout(max(timeouts.first_byte_s, timeouts.idle_s), connect=timeouts.connect_s)

    def call(self, route: Route, request: ModelRequest, *, key: str | _Unset | None = _FROM_ENV) -> CallRecord:
        """Send ``request`` to ``route``; ``key`` defaults to ``env[route.provider.key_env]``."""
        protocol = get_protocol(route.protocol)
        body = protocol.build_request(route.model, request, provider=route.provider.name)
        url = route.provider.endpoint(self._env)
        api_key = self._env.get(route.provider.key_env) if isinstance(key, _Unset) else key
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if request.stream else "application/json",
            "user-agent": self._user_agent,
            **route.provider.auth_headers(api_key),
        }
        record = CallRecord(
            route=route.name,
            url=url,
            request_headers=headers,
            request_body=body,
            stream=request.stream,
            started=self._clock.now(),
        )
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            http_request = self._http.build_request(
                "POST",
                url,
                headers=headers,
                content=content,
                timeout=self._httpx_timeout,
                extensions={ROUTE_EXTENSION: route.name},
            )
            response = self._http.send(http_request, stream=True)
        except (httpx.TransportError, httpx.InvalidURL, OSError) as exc:
            error = classify_exception(exc) or ProviderError("connection", f"{type(exc).__name__}: {exc}")
            return self._done(record, error)
        try:
            return self._read(record, protocol, response)
        finally:
            response.close()

    def _read(self, record: CallRecord, protocol: WireProtocol, response: httpx.Response) -> CallRecord:
        clock, started = self._clock, record.started
        first_byte_s, idle_s = self._timeouts.first_byte_s, self._timeouts.idle_s
        record.status = response.status_code
        record.response_headers = dict(response.headers.items())
        decoder = BodyDecoder(protocol, response.status_code, record.response_headers, streaming=record.stream)
        last: float | None = None
        error: ProviderError | None = None
        try:
            for chunk in response.iter_bytes():
                now = clock.now()
                if last is None:
                    record.ttft_ms = (now - started) * 1000.0
                    if now - started > first_byte_s:
                        error = _timeout(f"first body byte after {now - started:g} s (first_byte_s={first_byte_s:g})")
                        break
                elif now - last > idle_s:
                    error = _timeout(f"stream stalled {now - last:g} s between chunks (idle_s={idle_s:g})")
                    break
                last = now
                decoder.feed(chunk)
            else:
                now = clock.now()
                if last is None and now - started > first_byte_s:
                    error = _timeout(f"no body within first_byte_s={first_byte_s:g}")
                elif last is not None and now - last > idle_s:
                    error = _timeout(f"stream stalled {now - last:g} s before it ended (idle_s={idle_s:g})")
        except (httpx.TransportError, httpx.DecodingError, OSError) as exc:
            # DecodingError (a broken gzip/deflate body) is no TransportError: without it here a
            # corrupt compressed body escaped the client as an exception instead of invalid_json.
            error = classify_exception(exc, mid_stream=last is not None)
        record.raw = decoder.body
        if error is None:
            record.response, error = decoder.finish()
        if error is not None and error.status is None:
            error.status = record.status
        return self._done(record, error)

    def _done(self, record: CallRecord, error: ProviderError | None) -> CallRecord:
        record.error = error
        record.latency_ms = (self._clock.now() - record.started) * 1000.0
        return record


def _timeout(message: str) -> ProviderError:
    return ProviderError("timeout", message)
