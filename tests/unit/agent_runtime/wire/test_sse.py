"""The incremental SSE decoder: framing, comments, line endings, arbitrary chunking."""

from __future__ import annotations

from hypothesis import given, strategies as st

from agent_runtime.wire.sse import SSEDecoder, SSEEvent, encode_event, iter_events


def decode_all(*chunks: bytes) -> tuple[list[SSEEvent], bool]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events, decoder.close()


def test_data_only_events_and_done_sentinel() -> None:
    events, left = decode_all(b'data: {"a":1}\n\ndata: [DONE]\n\n')
    assert events == [SSEEvent(None, '{"a":1}'), SSEEvent(None, "[DONE]")]
    assert left is False


def test_typed_events_keep_their_name() -> None:
    events, _ = decode_all(
        b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    )
    assert events == [SSEEvent("message_start", '{"type":"message_start"}'), SSEEvent("ping", '{"type": "ping"}')]


def test_comments_are_ignored_before_between_and_inside_events() -> None:
    body = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: one\n: keep-alive\n\n: \n\ndata: two\n\n"
    events, _ = decode_all(body)
    assert events == [SSEEvent(None, "one"), SSEEvent(None, "two")]


def test_multi_line_data_joins_with_newline() -> None:
    events, _ = decode_all(b"data: first\ndata: second\ndata:third\n\n")
    assert events == [SSEEvent(None, "first\nsecond\nthird")]


def test_only_one_leading_space_is_stripped_and_colons_in_values_survive() -> None:
    events, _ = decode_all(b'data:  {"url": "http://x"}\n\n')
    assert events == [SSEEvent(None, ' {"url": "http://x"}')]


def test_field_without_colon_and_unknown_fields_are_ignored() -> None:
    events, _ = decode_all(b"id: 7\nretry: 100\nbogus\ndata: x\n\n")
    assert events == [SSEEvent(None, "x")]


def test_event_without_data_is_still_dispatched() -> None:
    events, _ = decode_all(b"event: error\n\n")
    assert events == [SSEEvent("error", "")]


def test_blank_lines_without_fields_dispatch_nothing() -> None:
    assert decode_all(b"\n\n\n\r\n")[0] == []


def test_crlf_and_cr_line_endings() -> None:
    crlf, _ = decode_all(b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n")
    cr, _ = decode_all(b"event: a\rdata: 1\r\rdata: 2\r\r")
    assert crlf == cr == [SSEEvent("a", "1"), SSEEvent(None, "2")]


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    # If "\r" and "\n" were two line ends, the "\n" would be a blank line dispatching early.
    events, _ = decode_all(b"data: 1\r", b"\ndata: 2\r", b"\n\r", b"\n")
    assert events == [SSEEvent(None, "1\n2")]


def test_utf8_sequence_split_across_chunks() -> None:
    raw = 'data: {"t":"72°F 🎲"}\n\n'.encode()
    cut = raw.index("🎲".encode()) + 2  # inside the 4-byte sequence
    events, _ = decode_all(raw[:cut], raw[cut:])
    assert events == [SSEEvent(None, '{"t":"72°F 🎲"}')]


def test_unicode_line_separators_are_not_line_ends() -> None:
    # JSON may carry U+2028 raw; str.splitlines() would split there, SSE must not.
    events, _ = decode_all("data: a\u2028b\x85c\n\n".encode())
    assert events == [SSEEvent(None, "a\u2028b\x85c")]


def test_unterminated_event_at_eof_is_dropped_and_reported() -> None:
    events, left = decode_all(b'data: complete\n\ndata: {"id":"chatcmpl-x","object":"chat.com')
    assert events == [SSEEvent(None, "complete")]
    assert left is True


def test_event_missing_only_its_blank_line_is_dropped_too() -> None:
    events, left = decode_all(b"data: a\n\ndata: b\n")
    assert events == [SSEEvent(None, "a")]
    assert left is True


def test_a_trailing_comment_is_not_a_partial_event() -> None:
    assert decode_all(b"data: a\n\n: bye")[1] is False
    assert decode_all(b"data: a\n\n\r")[1] is False


def test_decoder_is_reusable_after_close() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: half")
    assert decoder.close() is True
    assert decoder.feed(b"data: next\n\n") == [SSEEvent(None, "next")]
    assert decoder.close() is False


def test_long_line_in_tiny_chunks() -> None:
    payload = "x" * 20_000
    raw = f"data: {payload}\n\n".encode()
    events, _ = decode_all(*(raw[i : i + 3] for i in range(0, len(raw), 3)))
    assert events == [SSEEvent(None, payload)]


def test_encode_event_round_trips() -> None:
    raw = encode_event("content_block_delta", '{"a": 1}') + encode_event(None, "line1\nline2") + encode_event(None, "")
    assert raw.startswith(b'event: content_block_delta\ndata: {"a": 1}\n\n')
    assert list(iter_events([raw])) == [
        SSEEvent("content_block_delta", '{"a": 1}'),
        SSEEvent(None, "line1\nline2"),
        SSEEvent(None, ""),
    ]


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30)
_events = st.lists(st.tuples(st.one_of(st.none(), _text.filter(lambda s: s != "")), _text), min_size=1, max_size=6)


@given(
    events=_events,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_gives_the_same_events(
    events: list[tuple[str | None, str]], cuts: list[int], newline: str
) -> None:
    raw = b"".join(encode_event(name, data) for name, data in events).replace(b"\n", newline.encode())
    points = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    decoded, left = decode_all(*chunks)
    assert decoded == [SSEEvent(name, data) for name, data in events]
    assert left is False
