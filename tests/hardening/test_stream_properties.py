"""Property tests: the SSE decoder and every protocol's normalizer under re-chunking, truncation and mutation.

Byte sources are genuine: every model-call interaction of the real-world recordings
(``shared_dir.REALWORLD``; skipped cleanly when absent) and the emulator's renderings for all three
protocols (text, reasoning, parallel and unicode tool calls, text dialect, length / content-filter
finishes, malformed arguments, every HTTP error body, the in-stream errors of each provider).
Everything goes through ``BodyDecoder``, the one decoding path of live calls, replays and
``kylecode inspect``.

Properties:

- any re-chunking of a body gives the same final message and the same canonical events;
- any truncation, and any byte mutation (with any status and content type), never raises: the result is a
  message or an error whose category is in ``errors.CATEGORIES``; a stream cut before its finish event is
  an error; a truncated body that still decodes as a success says what the whole body says;
- arbitrary JSON shaped like each protocol's payloads (vocabulary of real keys and values) never raises
  from ``parse_response`` or a stream decoder.

Example counts are moderate and derandomized (``SETTINGS``) so CI is deterministic and fast.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hardening_helpers import PROTOCOLS, Source, all_sources, assert_classified, decode, realworld_sources
from hypothesis import HealthCheck, given, settings, strategies as st
from shared_dir import REALWORLD

from agent_runtime.errors import CATEGORIES
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.sse import SSEDecoder, SSEEvent

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SOURCES = all_sources()
STREAMS = tuple(s for s in SOURCES if s.streaming and s.status == 200)
FULL = {s.name: decode(s, [s.body]) for s in SOURCES}


def _cut(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def test_the_sources_cover_every_protocol_streaming_and_not() -> None:
    kinds = {(s.protocol, s.streaming) for s in SOURCES}
    assert kinds == {(p, stream) for p in PROTOCOLS for stream in (True, False)}
    assert len(SOURCES) >= 130


@pytest.mark.skipif(
    not realworld_sources(), reason=f"real-world recordings not found at {REALWORLD} (they live outside the repository)"
)
def test_realworld_recordings_are_included() -> None:
    assert len(realworld_sources()) >= 50
    assert {s.protocol for s in realworld_sources() if s.streaming} == set(PROTOCOLS)


# -- the SSE decoder on its own ----------------------------------------------------------------------------

_field_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=20)
_data = st.lists(_field_text, min_size=1, max_size=4)  # the lines of one data field
_event = st.tuples(
    st.none() | _field_text.filter(lambda s: not s.startswith(" ")), _data, st.lists(_field_text, max_size=2)
)  # (event name, data lines, comments before it)


def _encode(events: list[tuple[str | None, list[str], list[str]]], eol: str) -> bytes:
    out = []
    for name, lines, comments in events:
        out += [f":{c}{eol}" for c in comments]
        if name is not None:
            out.append(f"event: {name}{eol}")
        out += [f"data: {line}{eol}" for line in lines]
        out.append(eol)
    return "".join(out).encode("utf-8")


@SETTINGS
@given(
    events=st.lists(_event, max_size=8),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
)
def test_sse_decoder_any_chunking_any_line_ending_gives_the_events_written(
    events: list[tuple[str | None, list[str], list[str]]], eol: str, cuts: list[int]
) -> None:
    body = _encode(events, eol)
    decoder = SSEDecoder()
    got: list[SSEEvent] = []
    for chunk in _cut(body, cuts):  # cuts fall inside UTF-8 sequences and between \r and \n too
        got += decoder.feed(chunk)
    assert decoder.close() is False  # every event was terminated
    assert got == [SSEEvent(name, "\n".join(lines)) for name, lines, _ in events]


# -- the normalizer: re-chunking ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_byte_by_byte_equals_whole_body(source: Source) -> None:
    """The extreme re-chunking, for every source: one byte per chunk."""
    assert decode(source, [source.body[i : i + 1] for i in range(len(source.body))]) == FULL[source.name]


@SETTINGS
@given(source=st.sampled_from(SOURCES), cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=40))
def test_any_rechunking_gives_the_same_message_and_events(source: Source, cuts: list[int]) -> None:
    assert decode(source, _cut(source.body, cuts)) == FULL[source.name]


# -- truncation ----------------------------------------------------------------------------------------------


@SETTINGS
@given(
    source=st.sampled_from(SOURCES),
    at=st.integers(min_value=0, max_value=200_000),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=6),
)
def test_truncation_never_raises_and_never_invents_a_message(source: Source, at: int, cuts: list[int]) -> None:
    body = source.body[: at % (len(source.body) + 1)]
    result, _ = decode(source, _cut(body, cuts))
    assert_classified(result)
    if source.finish_end is not None and len(body) < source.finish_end:
        assert result["error"] is not None, f"{source.name} cut at {len(body)} < finish end {source.finish_end}"
    full, _ = FULL[source.name]
    if result["error"] is None and full["error"] is None and len(body) < len(source.body):
        # A cut that only lost bytes after the terminal event: the same message (usage may be lost
        # when it trails the finish, as OpenAI's usage chunk does).
        same = {k: v for k, v in result.items() if k != "usage"}
        assert same == {k: v for k, v in full.items() if k != "usage"}


@pytest.mark.parametrize(
    "source",
    [s for s in STREAMS if s.finish_end is not None],
    ids=[s.name for s in STREAMS if s.finish_end is not None],
)
def test_every_cut_before_the_finish_event_is_an_error(source: Source) -> None:
    """Exhaustive for emulator streams: each byte offset before the finish event's end."""
    assert source.finish_end is not None
    for end in range(0, source.finish_end, max(1, source.finish_end // 200)):
        result, _ = decode(source, [source.body[:end]])
        assert result["error"] is not None and result["error"][0] in CATEGORIES, (source.name, end)


# -- mutation ------------------------------------------------------------------------------------------------

_INTERESTING = b'{}[]":,\\\n\r 0123456789-.eEtrufalsn\x00\xff\xc3\xa9\xe2\x80'
_edit = st.tuples(
    st.sampled_from(["replace", "insert", "delete"]),
    st.integers(min_value=0, max_value=200_000),
    st.sampled_from(list(_INTERESTING)) | st.integers(min_value=0, max_value=255),
)
_CONTENT_TYPES = [
    None,
    "application/json",
    "text/event-stream",
    "text/event-stream; charset=utf-8",
    "text/html",
    "text/plain",
    "application/octet-stream",
    "",
]


def _mutate(body: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(body)
    for op, position, byte in edits:
        at = position % (len(data) + 1)
        if op == "insert" or not data:
            data.insert(at, byte)
        elif op == "replace":
            data[min(at, len(data) - 1)] = byte
        else:
            del data[min(at, len(data) - 1)]
    return bytes(data)


@SETTINGS
@given(
    source=st.sampled_from(SOURCES),
    edits=st.lists(_edit, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=8),
    status=st.sampled_from([None, 200, 201, 204, 400, 404, 429, 500, 502, 503, 529]),
    content_type=st.sampled_from(_CONTENT_TYPES),
)
def test_mutated_bytes_status_and_content_type_give_a_classified_result(
    source: Source, edits: list[tuple[str, int, int]], cuts: list[int], status: int | None, content_type: str | None
) -> None:
    body = _mutate(source.body, edits)
    headers = source.header_map
    if content_type is not None:
        headers["content-type"] = content_type
    result, _ = decode(source, _cut(body, cuts), status=status, headers=headers)
    assert_classified(result)
    if status is not None and status >= 400:
        assert result["error"] is not None  # an error status is never a message


# -- structure-aware fuzzing of the payload parsers -----------------------------------------------------------

_KEYS = [
    "type",
    "choices",
    "delta",
    "message",
    "content",
    "tool_calls",
    "index",
    "id",
    "function",
    "name",
    "arguments",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "error",
    "code",
    "status",
    "output",
    "output_index",
    "item",
    "call_id",
    "response",
    "content_block",
    "input",
    "partial_json",
    "text",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "reasoning",
    "reasoning_content",
    "thinking",
    "summary",
    "incomplete_details",
    "reason",
    "x_groq",
    "model",
    "metadata",
    "raw",
    "param",
    "status_code",
    "role",
    "refusal",
    "delta_type",
    "item_id",
    "sequence_number",
]
_WORDS = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
    "ping",
    "text",
    "tool_use",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "thinking",
    "response.created",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.completed",
    "response.failed",
    "response.incomplete",
    "response.reasoning_summary_part.added",
    "function_call",
    "message",
    "output_text",
    "reasoning",
    "stop",
    "tool_calls",
    "length",
    "end_turn",
    "failed",
    "incomplete",
    "completed",
    "content_filter",
    "refusal",
    "max_output_tokens",
    "server_error",
    "overloaded_error",
    "rate_limit_exceeded",
    "context_length_exceeded",
    "tool_use_failed",
    "unsupported_parameter",
    "tools",
    "[DONE]",
    "{",
    '{"a":1}',
    "",
    "assistant",
]
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-2, max_value=2**40)
    | st.floats(allow_nan=True)
    | st.sampled_from(_WORDS)
    | st.text(max_size=8)
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=30,
)


@SETTINGS
@given(protocol=st.sampled_from(PROTOCOLS), body=_json)
def test_parse_response_never_raises_on_any_json(protocol: str, body: Any) -> None:
    response = get_protocol(protocol).parse_response(body)  # type: ignore[arg-type]
    if response.error is not None:
        assert response.error.category in CATEGORIES


@SETTINGS
@given(
    protocol=st.sampled_from(PROTOCOLS),
    events=st.lists(st.tuples(st.none() | st.sampled_from(_WORDS), _json | st.text(max_size=10)), max_size=10),
)
def test_stream_decoders_never_raise_on_any_events(protocol: str, events: list[tuple[str | None, Any]]) -> None:
    decoder = get_protocol(protocol).stream_decoder()  # type: ignore[arg-type]
    for name, payload in events:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        decoder.feed(SSEEvent(name, data))
    response = decoder.finish()
    if response.error is not None:
        assert response.error.category in CATEGORIES


# -- structure-aware mutation: real payloads with one value replaced -----------------------------------------


def _payloads() -> list[tuple[str, str | None, list[Any]]]:
    """(protocol, event name or None for a whole JSON body, [payloads]) from every 200 source."""
    from agent_runtime.wire.sse import iter_events

    out: list[tuple[str, str | None, list[Any]]] = []
    for source in SOURCES:
        if source.status != 200:
            continue
        if source.streaming:
            events = []
            for event in iter_events([source.body]):
                try:
                    events.append((event.event, json.loads(event.data)))
                except ValueError:
                    continue
            out.append((source.protocol, "stream", events))
        else:
            try:
                out.append((source.protocol, None, [json.loads(source.body)]))
            except ValueError:
                continue
    return out


PAYLOADS = _payloads()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            paths += _paths(child, (*prefix, i))
    return paths


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@SETTINGS
@given(data=st.data())
def test_real_payloads_with_any_value_replaced_never_raise(data: st.DataObject) -> None:
    protocol, kind, payloads = data.draw(st.sampled_from(PAYLOADS))
    wire = get_protocol(protocol)  # type: ignore[arg-type]
    edits = data.draw(st.integers(min_value=1, max_value=3))
    if kind is None:
        body = payloads[0]
        for _ in range(edits):
            path = data.draw(st.sampled_from(_paths(body)))
            body = _replace(body, path, data.draw(_json))
        response = wire.parse_response(body)
    else:
        events = list(payloads)
        for _ in range(edits):
            if not events:
                break
            index = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
            name, payload = events[index]
            path = data.draw(st.sampled_from(_paths(payload)))
            events[index] = (name, _replace(payload, path, data.draw(_json)))
        decoder = wire.stream_decoder()
        for name, payload in events:
            decoder.feed(SSEEvent(name, json.dumps(payload)))
        response = decoder.finish()
    if response.error is not None:
        assert response.error.category in CATEGORIES


# -- the whole client: chunks over httpx, gzip included -------------------------------------------------------


def _call(source: Source, chunks: list[bytes], *, gzip_encoded: bool) -> Any:
    import httpx

    from agent_runtime.clock import VirtualClock
    from agent_runtime.config import Timeouts
    from agent_runtime.messages import ModelRequest, UserMessage
    from agent_runtime.providers import parse_route
    from agent_runtime.wire.client import ProviderClient

    headers = {k: v for k, v in source.header_map.items() if k not in ("content-length", "content-encoding")}
    if gzip_encoded:
        headers["content-encoding"] = "gzip"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(source.status, headers=headers, stream=_ChunkStream(chunks))

    route = parse_route(
        {"openai_chat": "openai/m", "anthropic_messages": "anthropic/m", "openai_responses": "openai-responses/m"}[
            source.protocol
        ]
    )
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = ProviderClient(http, clock=VirtualClock(), timeouts=Timeouts(), env={})
        return client.call(route, ModelRequest([UserMessage("hi")], None, source.streaming))


def _chunk_stream_class() -> Any:
    import httpx

    class ChunkStream(httpx.SyncByteStream):
        """A response body delivered in the given chunks (httpx decodes content-encoding on top)."""

        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        def __iter__(self) -> Any:
            yield from self.chunks

    return ChunkStream


_ChunkStream = _chunk_stream_class()


@SETTINGS
@given(
    source=st.sampled_from(SOURCES),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=12),
    edits=st.lists(_edit, max_size=3),
)
def test_the_client_never_raises_on_gzip_bodies_intact_or_corrupt(
    source: Source, cuts: list[int], edits: list[tuple[str, int, int]]
) -> None:
    import gzip

    from agent_runtime.errors import ProviderError

    body = _mutate(gzip.compress(source.body, mtime=0), edits) if edits else gzip.compress(source.body, mtime=0)
    record = _call(source, _cut(body, cuts), gzip_encoded=True)  # must not raise
    if record.error is not None:
        assert isinstance(record.error, ProviderError) and record.error.category in CATEGORIES
    if not edits:  # intact gzip: exactly what the plain body says
        assert comparable_record(record) == FULL[source.name][0]


def comparable_record(record: Any) -> dict[str, Any]:
    from hardening_helpers import comparable

    return comparable(record.response, record.error)


_BAD_VALUES = (1, -1, 2.5, True, None, "x", "", [], ["x"], [1], [None], {}, {"x": 1})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_value_of_every_real_body_replaced_never_raises(protocol: str) -> None:
    """Exhaustive and deterministic: each value of each real non-streamed body, replaced by each wrong type."""
    wire = get_protocol(protocol)  # type: ignore[arg-type]
    bodies = [payloads[0] for p, kind, payloads in PAYLOADS if p == protocol and kind is None]
    assert bodies
    tried = 0
    for body in bodies:
        for path in _paths(body):
            for bad in _BAD_VALUES:
                response = wire.parse_response(_replace(body, path, bad))
                assert response.error is None or response.error.category in CATEGORIES, (path, bad)
                tried += 1
    assert tried > 1000
