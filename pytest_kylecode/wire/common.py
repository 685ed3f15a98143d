"""Plumbing every wire module shares: the response plan, stable ids, SSE framing, timing.

Nothing here knows a provider's field names; that lives in one module per protocol.

Representation of a response (what the transport serves and what a FaultTransport gets):
``WireResponse(status, headers, chunks)`` where ``chunks`` are ``(offset_seconds, bytes)``
from the moment the request was sent. A streamed body has exactly one SSE event per chunk
(each ending in ``\\n\\n``), so stream faults can cut, stall or replace events by index; a
JSON or HTML body is a single chunk.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from agent_runtime.messages import JSONObject

# Fixed so the same request always gets byte-identical output (2026-01-01T00:00:00Z).
CREATED: Final = 1767225600
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Roughly one token per piece, as real streams split: words with their leading space,
# punctuation runs apart (`{"`, `country`, `":"`, `UK`, `"}`).
_PIECE: Final = re.compile(r"\s*\w+|\s*[^\w\s]+|\s+")
MAX_PIECES: Final = 64  # long texts are merged into at most this many deltas: cheap to render


@dataclass(frozen=True, slots=True)
class Timing:
    """Synthetic, deterministic pacing: the first byte after ``first_byte_s``, then one event per ``per_event_s``."""

    first_byte_s: float = 0.25
    per_event_s: float = 0.02

    def stamp(self, events: Sequence[bytes]) -> list[tuple[float, bytes]]:
        first, step = self.first_byte_s, self.per_event_s
        return [(round(first + i * step, 6), e) for i, e in enumerate(events)]

    def single(self, body: bytes, n_events: int) -> list[tuple[float, bytes]]:
        """A non-streamed body arrives when the equivalent stream would have finished."""
        return [(round(self.first_byte_s + max(n_events - 1, 0) * self.per_event_s, 6), body)]


DEFAULT_TIMING: Final = Timing()
# Serve at once: the loopback server on the real clock (delays then come only from faults).
IMMEDIATE: Final = Timing(0.0, 0.0)


@dataclass(slots=True)
class WireResponse:
    status: int
    headers: list[tuple[str, str]]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(c for _, c in self.chunks)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True, slots=True)
class PlannedCall:
    name: str
    arguments: str  # the JSON text the wire carries (verbatim for raw_arguments)
    pieces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one response says, before a protocol module writes it.

    ``index`` is the number of assistant turns in the request (not clamped to the script),
    so a repeated last turn still gets fresh ids. ``finish`` is canonical:
    stop | tool_calls | length | content_filter.
    """

    index: int
    model: str
    stream: bool
    text: str
    text_pieces: tuple[str, ...]
    reasoning: str
    reasoning_pieces: tuple[str, ...]
    calls: tuple[PlannedCall, ...]
    finish: str
    input_tokens: int
    output_tokens: int

    def seed(self, *parts: object) -> str:
        return "\x1f".join(str(p) for p in (self.model, self.index, *parts))


def request_tokens(body: JSONObject) -> int:
    """A deterministic stand-in for the prompt size: about four characters a token."""
    chars = sum(len(dumps(body[k])) for k in ("system", "instructions", "messages", "input", "tools") if k in body)
    return max(1, math.ceil(chars / 4))


def pieces(text: str) -> tuple[str, ...]:
    """Split ``text`` into stream deltas that concatenate back to it exactly."""
    if not text:
        return ()
    parts = _PIECE.findall(text)
    if len(parts) > MAX_PIECES:
        step = math.ceil(len(parts) / MAX_PIECES)
        parts = ["".join(parts[i : i + step]) for i in range(0, len(parts), step)]
    return tuple(parts)


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(data: str, event: str | None = None) -> bytes:
    """One SSE event: optional ``event:`` line, one ``data:`` line, blank line."""
    if event is None:
        return f"data: {data}\n\n".encode()
    return f"event: {event}\ndata: {data}\n\n".encode()


def stable_token(seed: str, length: int, alphabet: str = _BASE62) -> str:
    """``length`` characters of ``alphabet`` derived from ``seed`` (blake2b: stable across runs, unlike hash())."""
    n = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=48).digest(), "big")
    out = []
    base = len(alphabet)
    for _ in range(length):
        n, r = divmod(n, base)
        out.append(alphabet[r])
    return "".join(out)


def stable_hex(seed: str, length: int) -> str:
    return hashlib.blake2b(seed.encode(), digest_size=(length + 1) // 2).hexdigest()[:length]


# -- bodies shared by every protocol (not provider JSON) --------------------------------------------

HTML_TITLES: Final = {200: "Just a moment...", 502: "502 Bad Gateway"}


def html_page(status: int) -> bytes:
    """A gateway's HTML page (a proxy or CDN answering instead of the provider)."""
    title = HTML_TITLES.get(status, f"{status} Error")
    return (
        "<!DOCTYPE html>\n<html>\n<head><title>" + title + "</title></head>\n"
        "<body>\n<center><h1>" + title + "</h1></center>\n<hr><center>cloudflare</center>\n"
        "</body>\n</html>\n"
    ).encode()


# What a JSON body looks like when the connection drops mid-write.
CUT_JSON: Final = b'{"id": "x", '
