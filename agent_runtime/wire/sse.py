"""Incremental Server-Sent Events decoding (and encoding, for writers).

``SSEDecoder.feed(chunk)`` accepts body bytes split anywhere — inside a UTF-8
sequence, inside a line, between ``\\r`` and ``\\n`` — and returns the events
completed by that chunk. An event is dispatched at a blank line, as the SDKs do;
``:`` comment lines (``: OPENROUTER PROCESSING``, ``: keep-alive``) are ignored;
several ``data:`` lines join with ``\\n``; lines may end in ``\\n``, ``\\r\\n`` or ``\\r``.
``close()`` ends the stream: an event not terminated by a blank line is dropped
(the SDKs lose it too) and ``close()`` returns ``True`` so callers can tell.

The decoder does not interpret ``data``: each protocol module parses it once.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "encode_event", "iter_events"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: the ``event:`` field (``None`` when absent) and the joined ``data:`` lines."""

    event: str | None
    data: str


class SSEDecoder:
    __slots__ = ("_data", "_event", "_pieces", "_skip_lf", "_utf8")

    def __init__(self) -> None:
        # errors="replace": a stray invalid byte must not abort a whole stream; the
        # JSON parser of the protocol will reject the payload if it matters.
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._pieces: list[str] = []  # the current, unterminated line, in pieces
        self._skip_lf = False
        self._event: str | None = None
        self._data: list[str] | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk`` and return the events it completed (often none, often one)."""
        text = self._utf8.decode(chunk)
        if self._skip_lf and text:
            # The previous chunk ended in "\r": a "\n" opening this one completes that "\r\n".
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\n" not in text and "\r" not in text:
            # Mid-line chunk: keep the pieces; joining only at a line end keeps a long
            # line split into many small chunks linear instead of quadratic.
            self._pieces.append(text)
            return []
        if self._pieces:
            self._pieces.append(text)
            text = "".join(self._pieces)
            self._pieces = []
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        rest = lines.pop()  # after the last line end: an unterminated line
        if rest:
            self._pieces.append(rest)
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> bool:
        """End of stream. Returns ``True`` when an unterminated event was left (and dropped).

        The decoder is reset and can decode another stream afterwards.
        """
        tail = "".join(self._pieces) + self._utf8.decode(b"", final=True)
        self._pieces = []
        self._utf8.reset()
        self._skip_lf = False
        if tail:
            self._line(tail)  # a complete field line, but the blank line never came
        pending = self._event is not None or self._data is not None
        self._event = None
        self._data = None
        return pending

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if self._data is None and self._event is None:
                return None
            data = self._data
            event = SSEEvent(self._event, "" if data is None else data[0] if len(data) == 1 else "\n".join(data))
            self._event = None
            self._data = None
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
        elif name == "event":
            self._event = value
        # "id" and "retry" are valid fields no provider uses for us; unknown fields are ignored (spec).
        return None


def iter_events(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """All complete events of a byte stream (an unterminated last event is dropped)."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()


def encode_event(event: str | None, data: str) -> bytes:
    """The wire form of one event: optional ``event:`` line, one ``data:`` line per line of ``data``, blank line."""
    head = f"event: {event}\n" if event is not None else ""
    if "\n" in data or "\r" in data:
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        body = "".join(f"data: {line}\n" for line in lines)
    else:
        body = f"data: {data}\n"
    return (head + body + "\n").encode("utf-8")
