"""The cassette as an httpx transport: replay recorded traffic, record new traffic.

``CassetteTransport`` answers a request from the first unplayed recorded
interaction that matches it (method, canonical URI, normalized JSON body),
delivering the body chunk by chunk at its recorded offsets on the cell clock.
When the record mode allows it, a request with no match goes to the upstream
transport (the emulator or the live providers) and its response is captured
chunk by chunk, with offsets, as it streams through to the runtime.

A request that can neither be replayed nor recorded is a *miss*: it is kept
(with a diff against the nearest recorded request) so the cell fails with it,
and the transport raises ``ReplayMiss`` so no response is invented.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from agent_runtime.clock import Clock
from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.cassettes.matching import Matcher, MatchRules, RequestNormalizer
from pytest_kylecode.failures import ReplayAborted, ReplayMiss
from pytest_kylecode.timed_body import TimedByteStream, sync_body

_KEEP_REQUEST_HEADERS = ("content-type", "anthropic-version")
_KEEP_RESPONSE_HEADERS = ("content-type", "retry-after", "retry-after-ms", "x-should-retry")


@dataclass(slots=True)
class Miss:
    method: str
    uri: str
    report: str


class CassetteTransport(httpx.BaseTransport):
    def __init__(
        self,
        recorded: list[Interaction],
        *,
        clock: Clock,
        normalizer: RequestNormalizer,
        upstream: httpx.BaseTransport | None,
        abort_on_miss: bool = False,
        rules: MatchRules | None = None,
    ) -> None:
        """``upstream`` None means replay only (record mode ``none``, or ``once`` with a cassette);
        ``abort_on_miss`` raises ``ReplayAborted`` instead of ``ReplayMiss``; ``rules`` say what a
        request is compared on (``MatchRules.defaults()`` when not given)."""
        self.recorded = recorded
        self._matcher = Matcher(recorded, MatchRules.defaults() if rules is None else rules)
        self.played = [False] * len(recorded)
        self.new: list[Interaction] = []
        self.misses: list[Miss] = []
        # What the upstream did wrong while recording: a recording that holds it is no good.
        self.upstream_failures: list[str] = []
        self._clock = clock
        self._normalizer = normalizer
        self._upstream = upstream
        self._abort_on_miss = abort_on_miss

    @property
    def unplayed(self) -> list[int]:
        return [i for i, done in enumerate(self.played) if not done]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = self._clock.now()
        method = request.method
        uri = self._normalizer.uri(request)
        body = self._normalizer.body(request)  # decoded once: matched, and recorded redacted
        wanted = self._matcher.request(method, uri, request.headers, body)
        index = self._matcher.find(self.played, wanted)
        if index is None and self.recorded:
            # Interaction bodies are redacted; a request that carried a secret matches only once redacted too.
            wanted = self._matcher.request(method, uri, request.headers, self._normalizer.redact(body))
            index = self._matcher.find(self.played, wanted)
        if index is not None:
            self.played[index] = True
            item = self.recorded[index]
            return httpx.Response(
                item.status,
                headers=item.response_headers,
                stream=TimedByteStream(item.chunks, self._clock, start),
                request=request,
            )
        if self._upstream is None:
            report = self._matcher.miss_report(self.played, wanted)
            self.misses.append(Miss(method, uri, report))
            if self._abort_on_miss:
                raise ReplayAborted(report)
            raise ReplayMiss(report, request=request)
        return self._record(request, method, uri, body, start)

    def _record(self, request: httpx.Request, method: str, uri: str, body: object, start: float) -> httpx.Response:
        assert self._upstream is not None
        # Ask for an uncompressed body: cassettes store bodies as data, never gzip bytes.
        request.headers["accept-encoding"] = "identity"
        try:
            response = self._upstream.handle_request(request)
        except httpx.TransportError as exc:
            self.upstream_failures.append(f"the upstream failed: {method} {uri}: {type(exc).__name__}: {exc}")
            raise
        if response.status_code >= 400:
            self.upstream_failures.append(
                f"the upstream answered HTTP {response.status_code} to {method} {uri}, and no fault of this "
                "cell injected it"
            )
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower() in _KEEP_RESPONSE_HEADERS}
        item = Interaction(
            method=method,
            uri=uri,
            request_headers={k: v for k, v in request.headers.items() if k in _KEEP_REQUEST_HEADERS},
            request_json=self._normalizer.redact(body),
            status=response.status_code,
            reason=response.reason_phrase,
            response_headers=headers,
        )
        self.new.append(item)
        gzip = response.headers.get("content-encoding", "").lower() == "gzip"
        stream = _Capture(sync_body(response), item, self._clock, start, gzip=gzip, failures=self.upstream_failures)
        out_headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=out_headers,
            stream=stream,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k == "reason_phrase"},
        )

    def close(self) -> None:
        if self._upstream is not None:
            self._upstream.close()


class _Capture(httpx.SyncByteStream):
    """Passes the upstream body through and keeps each chunk with its offset.

    If the runtime stops reading early (a timeout, a truncation fault), the rest
    is still captured on close, so the cassette holds the whole genuine response;
    an emulator body is taken with its own offsets instead of waiting for it.
    """

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        item: Interaction,
        clock: Clock,
        start: float,
        *,
        gzip: bool,
        failures: list[str],
    ) -> None:
        self._inner = inner
        self._failures = failures
        self._item = item
        self._clock = clock
        self._start = start
        self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._delivered = 0
        self._iterator: Iterator[bytes] | None = None
        self._closed = False

    def _keep(self, offset: float, data: bytes) -> bytes:
        if self._decoder is not None:
            data = self._decoder.decompress(data)
        if data:
            self._item.chunks.append((round(offset, 4), data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        self._iterator = iter(self._inner)
        try:
            for data in self._iterator:
                self._delivered += 1
                kept = self._keep(self._clock.now() - self._start, data)
                if kept:
                    yield kept
        except httpx.TransportError as exc:
            self._failures.append(
                f"the upstream's answer to {self._item.method} {self._item.uri} broke off: {type(exc).__name__}: {exc}"
            )
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if isinstance(self._inner, TimedByteStream):
            shift = self._inner.start - self._start
            for offset, data in self._inner.chunks[self._delivered :]:
                self._keep(shift + offset, data)
        else:
            iterator = self._iterator if self._iterator is not None else iter(self._inner)
            try:
                for data in iterator:
                    self._keep(self._clock.now() - self._start, data)
            except httpx.TransportError as exc:
                self._failures.append(
                    f"the rest of the upstream's answer to {self._item.method} "
                    f"{self._item.uri} broke off: {type(exc).__name__}: {exc}"
                )
        self._inner.close()
