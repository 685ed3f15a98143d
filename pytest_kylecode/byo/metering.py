"""Provider metrics of a user's agent, measured from the traffic itself.

A user's agent reports what it *did* (``AgentReport``); what its provider calls *were* is
measured here, from the bytes that cross ``MeteringTransport`` (between the agent's HTTP
clients and the cell's ``FaultTransport``), so a user cannot get metrics wrong by
miscounting. Every call becomes an ``agent_runtime`` ``CallRecord`` classified by the
runtime's own decoding path (``provider_client.BodyDecoder`` over the route's wire
protocol) and is fed to a ``ProviderMetricsCollector``: the snapshot has exactly the shape
of the runtime's (docs/design.md, metrics snapshot), so expectations and syrupy snapshots work unchanged.

Rules, in the order a call meets them:

- **route**: the provider whose endpoint the URL is (canonical, or overridden with
  ``KYLECODE_<PROVIDER>_BASE_URL``) plus the body's ``model``: ``openai/gpt-4o-mini``.
  It is set as the request's ``kylecode.route`` extension, so the fault targets it and
  the cassette canonicalizes its URL.
- **broken**: a finished call that failed, or that the cell's fault answered (the
  ``FAULT_EXTENSION`` on its response: a tool-call rewrite is a 200 the agent may take).
- **retry**: after a broken call, a call to the same route that re-sends the same
  conversation (the body's ``messages``/``input``/``system``/``instructions``, compared
  without the cell's ``match:`` paths). **accepted_broken_response**: after a broken call,
  a call to the same route whose conversation differs: the agent carried the broken answer
  forward, and this call is the next turn. **fallback**: a call to another route when the
  previous finished call failed (``reason`` = its error category). A route switch after a
  success is the agent's own choice, not a fallback.
- **turn**: a retry or a fallback stays in the broken call's turn; any other call starts
  the next one. ``attempt`` counts calls within a turn.
- **timeouts**: the request's own read timeout (``extensions["timeout"]["read"]``, what
  httpx and httpx2 clients send) is applied on the cell clock to the first byte and to
  every gap between chunks; exceeding it raises ``httpx.ReadTimeout`` to the client, as a
  socket would, and the call is a ``timeout``.
- **outcome of a call**: a raised transport error is ``connection``/``timeout``
  (``classify.classify_exception``); otherwise ``BodyDecoder`` decides: error statuses by
  the provider's error body, HTML (``html_response``, a 200 included), empty and non-JSON
  bodies, in-band stream errors, a stream without its finish event
  (``stream_truncated``, also when the client closes it early), ``content_filter``.
  Latency and ttft are measured on the cell clock; tokens come from successful responses.

Harness failures (a replay miss, the live call budget) are not provider calls: they are
re-raised and not counted (the cell fails with the miss report instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal, Protocol, TypeAlias

import httpx

from agent_runtime.clock import Clock
from agent_runtime.errors import ProviderError
from agent_runtime.messages import JSONObject, ModelResponse, StreamEvent, ToolMode
from agent_runtime.observe.metrics import Attempt, ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.providers import PROVIDERS
from agent_runtime.wire.classify import classify_exception, classify_http, is_html
from agent_runtime.wire.client import ROUTE_EXTENSION, BodyDecoder, CallRecord
from agent_runtime.wire.protocols import get_protocol
from pytest_kylecode.cassettes.matching import MatchRules
from pytest_kylecode.failures import LiveRefusal, ReplayMiss
from pytest_kylecode.faults.transport import FAULT_EXTENSION
from pytest_kylecode.timed_body import sync_body
from pytest_kylecode.wire.requests import json_body, protocol_for_path, route_of

__all__ = ["MeteringTransport", "TrafficMeter"]

_HARNESS_ERRORS: Final = (ReplayMiss, LiveRefusal)
# The body keys that hold a conversation, over the protocols (chat, Messages, Responses).
CONVERSATION_KEYS: Final = ("messages", "input", "system", "instructions")
_NETWORK_ERRORS: Final = (httpx.TransportError, OSError)


class TrafficMeter:
    """The metrics of one cell's traffic; one per cell, shared by every client the agent makes."""

    def __init__(
        self,
        clock: Clock,
        collector: ProviderMetricsCollector,
        *,
        runlog: RunLog | None = None,
        tool_mode: ToolMode = "native",
        match: MatchRules | None = None,
    ) -> None:
        self.clock = clock
        self.collector = collector
        self.runlog = runlog
        self.tool_mode = tool_mode
        self.match = MatchRules.defaults() if match is None else match
        self.successes = 0
        self.final_route: str | None = None
        self.last_error: ProviderError | None = None
        self._previous: _Call | None = None  # the last finished call
        self._turn = 0
        self._turn_route = ""
        self._attempt = 0
        self._open: set[_Call] = set()
        self.harness_error: Exception | None = None  # the first replay miss / live budget refusal

    def conversation(self, body: JSONObject | None) -> object:
        """What a retry re-sends unchanged: the conversation keys of the body, without the match paths."""
        masked = self.match.masked(body or {})
        return {k: v for k, v in masked.items() if k in CONVERSATION_KEYS} if isinstance(masked, dict) else masked

    def start(self, request: httpx.Request, body: JSONObject | None) -> _Call:
        route = route_of(request, body) or f"{request.url.host}{request.url.path}"
        request.extensions[ROUTE_EXTENSION] = route
        conversation = self.conversation(body)
        previous = self._previous
        relation: Relation = None
        if previous is not None and previous.broken:
            if previous.record.route != route:
                relation = "fallback" if previous.record.error is not None else None
            elif previous.conversation == conversation:
                relation = "retry"
            else:
                relation = "accepted_broken_response"
        # A retry or a fallback asks the broken call's turn again; any other call is the next turn.
        turn = previous.turn if previous is not None and relation in ("retry", "fallback") else self._turn + 1
        if turn != self._turn:
            self._turn, self._turn_route, self._attempt = turn, route, 0
        self._attempt += 1
        record = CallRecord(
            route=route,
            url=str(request.url),
            request_headers=dict(request.headers.items()),
            request_body=body if body is not None else {},
            stream=bool(body and body.get("stream")),
            started=self.clock.now(),
        )
        call = _Call(self, record, request, turn, self._attempt, conversation, relation, previous)
        self._open.add(call)
        return call

    def _finish(self, call: _Call) -> None:
        self._open.discard(call)
        record = call.record
        route, error = record.route, record.error
        previous, relation = call.previous, call.relation
        what = _broken_what(previous) if previous is not None else ""
        if relation == "fallback":
            assert previous is not None
            self.collector.record_fallback(previous.record.route, route, what, call.turn)
            self._note(call.turn, f"{previous.record.route} -> {route} ({what})", "fallback")
        elif relation == "retry":
            self._note(call.turn, f"{what} on {route}: re-sent by the agent", "retry")
        elif relation == "accepted_broken_response":
            self._note(call.turn, f"{what} on {route}: the agent went on with the broken answer", "accepted")
        attempt = Attempt(
            record,
            call.turn,
            call.attempt,
            retry=relation == "retry",
            fallback=route != self._turn_route,
            tool_mode=self.tool_mode,
            accepted_broken_response=relation == "accepted_broken_response",
        )
        self.collector.record_attempt(attempt)
        if self.runlog is not None:
            self.runlog.record_attempt(attempt)
        if error is None:
            self.successes += 1
            self.final_route = route
        else:
            self.last_error = error
        self._previous = call

    def _note(self, turn: int, text: str, mark: str) -> None:
        if self.runlog is not None:
            self.runlog.note(turn, text, mark)

    def close(self) -> None:
        """Finish calls whose response the agent never closed (as what was received so far)."""
        for call in sorted(self._open, key=lambda c: c.record.started):
            call.complete()


Relation: TypeAlias = Literal["retry", "fallback", "accepted_broken_response"] | None


def _broken_what(call: _Call) -> str:
    """How a broken call broke: its error category, or the fault that answered it."""
    if call.record.error is not None:
        return call.record.error.category
    return f"fault {call.fault}"


class _Call:
    """One call in flight: its record, its decoder and its timing, and how it follows the call
    that finished before it started (``relation`` to ``previous``)."""

    __slots__ = (
        "attempt",
        "conversation",
        "decoder",
        "done",
        "fault",
        "last",
        "limit",
        "meter",
        "previous",
        "record",
        "relation",
        "request",
        "turn",
    )

    def __init__(
        self,
        meter: TrafficMeter,
        record: CallRecord,
        request: httpx.Request,
        turn: int,
        attempt: int,
        conversation: object,
        relation: Relation,
        previous: _Call | None,
    ) -> None:
        self.meter = meter
        self.record = record
        self.request = request
        self.turn = turn
        self.attempt = attempt
        self.conversation = conversation
        self.relation = relation
        self.previous = previous
        self.fault: str | None = None  # the fault kind that answered this call, if one did
        self.decoder: _Decoder | None = None
        self.limit = _read_timeout(request)
        self.last = record.started
        self.done = False

    @property
    def broken(self) -> bool:
        return self.record.error is not None or self.fault is not None

    def fail(self, error: ProviderError) -> None:
        if self.done:
            return
        self.done = True
        record = self.record
        if self.decoder is not None:
            record.raw = self.decoder.body
        if error.status is None:
            error.status = record.status
        record.error = error
        record.latency_ms = (self.meter.clock.now() - record.started) * 1000.0
        self.meter._finish(self)

    def complete(self) -> None:
        """The body ended (or the client closed it): decode what arrived."""
        if self.done:
            return
        self.done = True
        record = self.record
        decoder = self.decoder
        if decoder is None:
            error: ProviderError | None = ProviderError("empty_response", "no response")
        else:
            record.raw = decoder.body
            record.response, error = decoder.finish()
        record.error = error
        record.latency_ms = (self.meter.clock.now() - record.started) * 1000.0
        self.meter._finish(self)

    def late(self, what: str) -> ProviderError | None:
        """A timeout if the wait that just ended exceeded the request's read timeout."""
        now = self.meter.clock.now()
        waited, self.last = now - self.last, now
        if self.limit is not None and waited > self.limit:
            return ProviderError("timeout", f"{what} after {waited:g} s (read timeout {self.limit:g} s, cell clock)")
        return None

    def open(self, response: httpx.Response) -> httpx.Response:
        """Take the first chunk (as a client waits for it), then hand out the metered body."""
        record, stream = self.record, sync_body(response)
        fault = response.extensions.get(FAULT_EXTENSION)
        self.fault = str(fault) if fault else None
        record.status = response.status_code
        record.response_headers = dict(response.headers.items())
        chunks = iter(stream)
        try:
            first = next(chunks, None)
        except _NETWORK_ERRORS as exc:
            stream.close()
            self.fail(_classified(exc, mid_stream=False))
            raise
        late = self.late("no first byte")
        if first is not None and late is None:  # a byte after the timeout never reaches the client
            record.ttft_ms = (self.last - record.started) * 1000.0
        if late is not None:
            stream.close()
            self.fail(late)
            raise httpx.ReadTimeout(late.message, request=self.request)
        self.decoder = _decoder(record, response, self.request.url.path)
        if first is not None:
            self.decoder.feed(first)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            request=self.request,
            stream=_MeteredStream(self, first, chunks, stream),
            extensions=response.extensions,
        )


class _MeteredStream(httpx.SyncByteStream):
    __slots__ = ("_call", "_first", "_inner", "_rest")

    def __init__(self, call: _Call, first: bytes | None, rest: Iterator[bytes], inner: httpx.SyncByteStream) -> None:
        self._call = call
        self._first = first
        self._rest = rest
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        call, rest = self._call, self._rest
        first, self._first = self._first, None
        if first is None:
            call.complete()
            return
        yield first
        while True:
            try:
                chunk = next(rest)
            except StopIteration:
                break
            except _NETWORK_ERRORS as exc:
                call.fail(_classified(exc, mid_stream=True))
                raise
            late = call.late("stream stalled")
            if late is not None:
                call.fail(late)
                raise httpx.ReadTimeout(late.message, request=call.request)
            assert call.decoder is not None
            call.decoder.feed(chunk)
            yield chunk
        call.complete()

    def close(self) -> None:
        call = self._call
        if not call.done and call.record.status is not None and call.record.status >= 300:
            # An error answer the client did not read (an SDK closes it before retrying):
            # its body still decides the category. Error bodies are small.
            try:
                for chunk in self._rest:
                    if call.decoder is not None:
                        call.decoder.feed(chunk)
            except _NETWORK_ERRORS:
                pass
        self._inner.close()
        call.complete()


class MeteringTransport(httpx.BaseTransport):
    """Measures every call to ``inner`` (the cell's ``FaultTransport``) into ``meter``.

    ``close`` does not close ``inner``: the agent's clients come and go during a cell, and
    the cell closes its stack (fault, cassette, upstream) when the agent has finished.
    """

    def __init__(self, inner: httpx.BaseTransport, meter: TrafficMeter) -> None:
        self.inner = inner
        self.meter = meter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = self.meter.start(request, json_body(request))
        try:
            response = self.inner.handle_request(request)
        except _HARNESS_ERRORS as exc:
            call.meter._open.discard(call)
            call.done = True
            if self.meter.harness_error is None:
                self.meter.harness_error = exc
            raise
        except _NETWORK_ERRORS as exc:
            call.fail(_classified(exc, mid_stream=False))
            raise
        return call.open(response)

    def close(self) -> None:
        pass


def _classified(exc: BaseException, *, mid_stream: bool) -> ProviderError:
    return classify_exception(exc, mid_stream=mid_stream) or ProviderError("connection", f"{type(exc).__name__}: {exc}")


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        read = timeout.get("read")
        return float(read) if read is not None else None
    return None


class _Decoder(Protocol):
    """A response body decoder: the route's protocol's (``BodyDecoder``) or ``_GenericDecoder``."""

    @property
    def body(self) -> bytes: ...

    def feed(self, chunk: bytes) -> list[StreamEvent]: ...

    def finish(self) -> tuple[ModelResponse | None, ProviderError | None]: ...


def _decoder(record: CallRecord, response: httpx.Response, path: str) -> _Decoder:
    provider = PROVIDERS.get(record.route.split("/", 1)[0])
    name = provider.protocol if provider is not None else protocol_for_path(path)
    if name is None:
        return _GenericDecoder(response.status_code, record.response_headers)
    return BodyDecoder(get_protocol(name), response.status_code, record.response_headers, streaming=record.stream)


class _GenericDecoder:
    """A URL that is no provider endpoint: any 2xx but an HTML page is a success."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self._parts: list[bytes] = []

    @property
    def body(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._parts.append(chunk)
        return []

    def finish(self) -> tuple[None, ProviderError | None]:
        body = self.body
        if 200 <= self.status < 300 and not is_html(body, self.headers.get("content-type")):
            return None, None
        return None, classify_http(self.status, self.headers, body)[0]
