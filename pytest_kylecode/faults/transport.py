"""``FaultTransport``: the fault of a cell, injected above whatever source the cell uses.

It counts the calls to the routes the fault targets (``route: primary`` — the
cell's matrix provider —, ``any``, or one route name) and faults calls ``at`` ..
``at + times - 1``. Each fault takes the exact wire shape of the request's
protocol (and provider, where providers differ):

- HTTP answers (``http_*``, ``html_*``, ``invalid_json``, ``empty_response``,
  ``tools_unsupported``, ``context_length``) never reach the source;
- ``connect_error`` raises as a refused connection would;
- ``timeout`` and ``latency`` hold the whole answer back on the clock (``timeout``: past
  ``first_byte_s``), then pass the genuine one on;
- stream faults (``stall``, ``truncated_stream``, ``sse_error``, ``malformed_sse``)
  reshape the genuine stream event by event;
- ``malformed_tool_args``, ``duplicate_tool_args``, ``missing_tool_call_id``,
  ``content_filter`` rewrite the genuine response (see ``rewrite``).
"""

from __future__ import annotations

import httpx

from agent_runtime.clock import Clock
from agent_runtime.config import Timeouts
from agent_runtime.messages import JSONObject
from agent_runtime.providers import ProtocolName
from pytest_kylecode.faults import events
from pytest_kylecode.faults.catalog import HTTP_ANSWER_KINDS, FaultSpec
from pytest_kylecode.faults.rewrite import SEMANTIC_KINDS, rewrite
from pytest_kylecode.timed_body import TimedByteStream, sync_body
from pytest_kylecode.wire import for_protocol
from pytest_kylecode.wire.requests import ROUTE_EXTENSION, json_body, protocol_for_path, route_of

STREAM_EVENTS_BEFORE_FAULT = 2  # a stalled / erroring stream has already said something
# Set on a response the fault answered or changed (its kind): a byo agent's metering tells a retry
# of a faulted answer from a call that went on with it.
FAULT_EXTENSION = "kylecode.fault"


class FaultTransport(httpx.BaseTransport):
    def __init__(
        self, inner: httpx.BaseTransport, fault: FaultSpec, *, primary: str, clock: Clock, timeouts: Timeouts
    ) -> None:
        self.inner = inner
        self.fault = fault
        self.primary = primary
        self.clock = clock
        self.timeouts = timeouts
        self.targeted_calls = 0
        self.injected: list[int] = []  # numbers (among targeted calls) of the calls that were faulted
        self._answered = False

    def _targets(self, route: str | None) -> bool:
        wanted = self.fault.route
        if wanted == "any":
            return True
        return route == (self.primary if wanted == "primary" else wanted)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._answered = False  # set where the fault answers the call or changes its answer
        response = self._handle(request)
        if self._answered:
            response.extensions = {**response.extensions, FAULT_EXTENSION: self.fault.kind}
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.fault.kind == "none":
            return self.inner.handle_request(request)
        # The body is parsed only when it is needed: for the route when the runtime did not name
        # it, and for the calls the fault hits (the cassette layer parses every body anyway).
        named = request.extensions.get(ROUTE_EXTENSION)
        body = None if named else json_body(request)
        if not self._targets(str(named) if named else route_of(request, body)):
            return self.inner.handle_request(request)
        self.targeted_calls += 1
        if not self.fault.hits(self.targeted_calls):
            return self.inner.handle_request(request)
        self.injected.append(self.targeted_calls)
        if named:
            body = json_body(request)
        return self._inject(request, body or {})

    def _inject(self, request: httpx.Request, body: JSONObject) -> httpx.Response:
        kind = self.fault.kind
        protocol = protocol_for_path(request.url.path) or "openai_chat"
        wire = for_protocol(protocol)
        route = route_of(request, body) or self.primary
        provider = route.split("/", 1)[0]
        model = str(body.get("model", ""))
        start = self.clock.now()
        if kind in HTTP_ANSWER_KINDS:
            self._answered = True
            answer = wire.error_response(kind, provider=provider, model=model, seed=str(self.targeted_calls))
            return httpx.Response(
                answer.status,
                headers=answer.headers,
                stream=TimedByteStream(answer.chunks, self.clock, start),
                request=request,
            )
        if kind == "connect_error":
            raise httpx.ConnectError(f"[Errno 111] Connection refused (kylecode fault: {kind})", request=request)
        if kind in ("timeout", "latency"):
            # Nothing comes back for a while, then the genuine answer with its own timing on top.
            self.clock.sleep(self.timeouts.first_byte_s + 1.0 if kind == "timeout" else self.fault.latency_ms / 1000.0)
            return self.inner.handle_request(request)
        response = self.inner.handle_request(request)
        if kind in SEMANTIC_KINDS:
            return self._rewrite(request, body, response, protocol, start)
        if response.status_code != 200 or "text/event-stream" not in response.headers.get("content-type", ""):
            return response  # a stream fault needs a stream; an error answer passes as it is
        inner = sync_body(response)
        if kind == "stall":
            produce = events.stall(self.clock, STREAM_EVENTS_BEFORE_FAULT, self.timeouts.idle_s + 1.0)
        elif kind == "truncated_stream":
            produce = events.truncate(wire.is_finish_event)
        elif kind == "sse_error":
            tail = wire.stream_error_event(provider, model=model, response_id="", sequence_number=0)
            produce = events.replace_tail(STREAM_EVENTS_BEFORE_FAULT, tail, keep_rest=False)
        elif kind == "malformed_sse":
            produce = events.replace_tail(STREAM_EVENTS_BEFORE_FAULT, wire.malformed_event(), keep_rest=True)
        else:
            raise ValueError(f"fault {kind!r} has no injection")
        self._answered = True
        return _with_stream(response, events.EventStream(inner, produce), request)

    def _rewrite(
        self,
        request: httpx.Request,
        body: JSONObject,
        response: httpx.Response,
        protocol: ProtocolName,
        start: float,
    ) -> httpx.Response:
        chunks: list[tuple[float, bytes]] = []
        try:
            for data in sync_body(response):
                chunks.append((self.clock.now() - start, data))
        finally:
            response.close()
        raw = b"".join(data for _, data in chunks)
        streaming = "text/event-stream" in response.headers.get("content-type", "")
        faulted = None
        if response.status_code == 200 and raw:
            faulted = rewrite(
                self.fault.kind, protocol, body, raw, streaming=streaming, first_offset=chunks[0][0] if chunks else 0.0
            )
        if faulted is None:  # nothing to act on (an error, no tool call): the genuine answer
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=TimedByteStream(chunks, self.clock, start),
                request=request,
            )
        self._answered = True
        return httpx.Response(
            faulted.status,
            headers=faulted.headers,
            stream=TimedByteStream(faulted.chunks, self.clock, start),
            request=request,
        )

    def close(self) -> None:
        self.inner.close()


def _with_stream(response: httpx.Response, stream: httpx.SyncByteStream, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        response.status_code, headers=response.headers, stream=stream, request=request, extensions=response.extensions
    )
