"""Secrets out of everything a cassette keeps, and the last check before it is written.

``scrub`` redacts an interaction's URI, request body and response body (key-shaped values and the
values of the key variables). A streamed answer that echoes a key splits it over several events
(``"sk"``, ``"-ant"``, ``"-api03..."``): no single event holds the whole key, so fragments of a
known key are redacted in every event, and ``surviving_secrets`` checks the text the events add
up to, as well as the whole cassette text, before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from agent_runtime.observe.redact import MASK, find_secrets, redact_fragments, redact_json, redact_text, redact_url
from pytest_kylecode.cassettes.format import Interaction

__all__ = ["scrub", "surviving_secrets"]


_TEXT_FIELDS = frozenset(
    {"text", "content", "delta", "partial_json", "arguments", "thinking", "reasoning", "reasoning_content", "refusal"}
)


def _streamed_text(item: Interaction) -> str:
    """The text, reasoning and argument fragments of a streamed body, joined in order."""
    out: list[str] = []

    def walk(value: object, field: str | None) -> None:
        if isinstance(value, dict):
            for name, child in value.items():
                walk(child, name)
        elif isinstance(value, list):
            for child in value:
                walk(child, field)
        elif isinstance(value, str) and field in _TEXT_FIELDS:
            out.append(value)

    for line in item.body.decode("utf-8", errors="replace").splitlines():
        if line.startswith("data:"):
            try:
                walk(json.loads(line[5:]), None)
            except ValueError:
                continue
    return "".join(out)


# What is left of a streamed key whose secret part was masked: the prefix pieces ("sk", "-", "ant",
# "-", "api03", "-") before "[REDACTED]". Key-shaped by pattern, yet nothing secret remains.
_MASKED_KEY_PREFIX = re.compile(r"[A-Za-z0-9_\-]+(?=" + re.escape(MASK) + ")")


def _leaks_across_events(items: list[Interaction], env: Mapping[str, str]) -> list[str]:
    return [
        secret
        for item in items
        if item.is_sse
        for secret in find_secrets(_MASKED_KEY_PREFIX.sub("", _streamed_text(item)), env)
    ]


def scrub(item: Interaction, env: Mapping[str, str]) -> Interaction:
    """Secrets out of everything a cassette keeps: URI, request body, response body."""
    chunks = []
    for offset, data in item.chunks:
        text = data.decode("utf-8", errors="surrogateescape")
        scrubbed = redact_fragments(redact_text(text, env), env)
        chunks.append((offset, data if scrubbed == text else scrubbed.encode("utf-8", errors="surrogateescape")))
    return Interaction(
        method=item.method,
        uri=redact_url(item.uri, env),
        request_headers=dict(item.request_headers),
        request_json=redact_json(item.request_json, env),
        status=item.status,
        reason=item.reason,
        response_headers=dict(item.response_headers),
        chunks=chunks,
    )


def surviving_secrets(text: str, items: list[Interaction], env: Mapping[str, str]) -> list[str]:
    """Secrets still in a cassette's ``text`` or in what its streamed events add up to."""
    return find_secrets(text, env) or _leaks_across_events(items, env)
