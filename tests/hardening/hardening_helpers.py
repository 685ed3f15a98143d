"""Shared pieces of the hardening tests: byte sources, one decoding path, independent checks.

Everything here is written against the documented contract (docs/design.md) and the providers'
wire shapes, not against the code under test: the pairing check and the run-directory check re-derive what they assert.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared_dir import REALWORLD

from agent_runtime.errors import CATEGORIES, ProviderError
from agent_runtime.messages import AssistantMessage, ModelRequest, ModelResponse, ToolResult, ToolSpec, UserMessage
from agent_runtime.wire.client import BodyDecoder
from agent_runtime.wire.protocols import get_protocol
from pytest_kylecode.emulator import parse_script, respond
from pytest_kylecode.faults.catalog import HTTP_ANSWER_KINDS
from pytest_kylecode.wire import for_protocol

PROTOCOLS = ("openai_chat", "anthropic_messages", "openai_responses")
PATHS = {
    "openai_chat": "/v1/chat/completions",
    "anthropic_messages": "/v1/messages",
    "openai_responses": "/v1/responses",
}
# One provider per protocol, as the emulator and the fault transport name them.
PROVIDER_OF = {"openai_chat": "openai", "anthropic_messages": "anthropic", "openai_responses": "openai-responses"}


@dataclass(frozen=True)
class Source:
    """One genuine HTTP answer: what a provider (real or emulated) sent for one request."""

    name: str
    protocol: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    streaming: bool
    # Byte offset just past the event that carries the finish (emulator streams only): a stream
    # cut anywhere before it never reached its finish and must come back as an error.
    finish_end: int | None = None

    @property
    def header_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers}


def decode(
    source: Source, chunks: Sequence[bytes], *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[Any]]:
    """``chunks`` through the runtime's one decoding path -> (comparable result, canonical events).

    Raises whatever the decoder raises: callers assert that nothing does.
    """
    decoder = BodyDecoder(
        get_protocol(source.protocol),  # type: ignore[arg-type]
        source.status if status is None else status,
        source.header_map if headers is None else dict(headers),
        streaming=source.streaming,
    )
    events: list[Any] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    response, error = decoder.finish()
    return comparable(response, error), events


def comparable(response: ModelResponse | None, error: ProviderError | None) -> dict[str, Any]:
    out: dict[str, Any] = {"error": None if error is None else (error.category, error.message)}
    if response is not None:
        out.update(
            text=response.text,
            reasoning=response.reasoning,
            finish=response.finish_reason,
            raw_finish=response.raw_finish_reason,
            usage=(response.usage.input_tokens, response.usage.output_tokens),
            calls=[(c.id, c.name, c.arguments, c.parse_error is not None) for c in response.tool_calls],
            inner_error=None if response.error is None else (response.error.category, response.error.message),
        )
    return out


def assert_classified(result: dict[str, Any]) -> None:
    """Nothing but a classified error: a category of the catalog (docs/design.md, error categories),
    never another name."""
    for key in ("error", "inner_error"):
        value = result.get(key)
        if value is not None:
            assert value[0] in CATEGORIES, f"{key} category {value[0]!r} is not one of errors.CATEGORIES"


# -- sources ----------------------------------------------------------------------------------------


@functools.cache
def realworld_sources() -> tuple[Source, ...]:
    """Every model-call interaction of every real-world recording (``shared_dir.REALWORLD``; empty when absent)."""
    if not REALWORLD.is_dir():
        return ()
    from pytest_kylecode.cassettes.vcr_reader import read_cassette
    from pytest_kylecode.wire.requests import protocol_for_path

    out = []
    for path in sorted(REALWORLD.glob("*/*.yaml")):
        for index, item in enumerate(read_cassette(path)):
            protocol = protocol_for_path(item.uri)
            if protocol is None:
                continue
            request = item.request_json
            streaming = (
                isinstance(request, dict) and request.get("stream") is True
            ) or "event-stream" in item.response_headers.get("content-type", "")
            out.append(
                Source(
                    f"{path.parent.name}/{path.name}#{index}",
                    protocol,
                    item.status,
                    tuple(item.response_headers.items()),
                    item.body,
                    streaming,
                )
            )
    return tuple(out)


# Scripts that make the emulator say every kind of thing a turn can hold.
EMULATOR_SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "text": [{"text": "Hello there, this is a plain answer.\nWith two lines."}],
    "reasoning_tools": [
        {
            "text": "Looking around.",
            "reasoning": "Check the tree first, then read.",
            "tool_calls": [
                {"name": "list_dir", "arguments": {"path": "."}},
                {"name": "read_file", "arguments": {"path": "src/fs.c"}},
            ],
        }
    ],
    "unicode": [
        {
            "text": "Grüße — 你好 🌍 «ok» \u2028 done",
            "tool_calls": [{"name": "write_file", "arguments": {"path": "ü/文件.txt", "content": '🌍\n"q"\\'}}],
        }
    ],
    "length": [{"text": "cut short", "finish": "length"}],
    "content_filter": [{"text": "refused", "finish": "content_filter"}],
    "malformed_args": [{"tool_calls": [{"name": "write_file", "raw_arguments": '{"path": "a.txt"'}]}],
    "long": [
        {
            "text": " ".join(f"word{i}" for i in range(300)),
            "tool_calls": [{"name": "write_file", "arguments": {"path": "big.txt", "content": "x" * 3000}}],
        }
    ],
}
TOOLS = [
    ToolSpec("list_dir", "", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolSpec("read_file", "", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolSpec(
        "write_file", "", {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}
    ),
]


def _finish_end(protocol: str, chunks: list[bytes]) -> int | None:
    wire = for_protocol(protocol)
    offset = 0
    for chunk in chunks:
        offset += len(chunk)
        if wire.is_finish_event(chunk):
            return offset
    return None


@functools.cache
def emulator_sources() -> tuple[Source, ...]:
    """The emulator's renderings: every script x protocol x streaming x tool mode, plus every
    HTTP error body and in-stream error of each protocol (and of the providers with their own shapes)."""
    out = []
    for protocol in PROTOCOLS:
        wire_protocol = get_protocol(protocol)  # type: ignore[arg-type]
        for name, script in EMULATOR_SCRIPTS.items():
            for stream in (True, False):
                for tools in (True, False):
                    request = ModelRequest([UserMessage("go")], TOOLS if tools else None, stream)
                    body = wire_protocol.build_request("emulated-model", request, provider=PROVIDER_OF[protocol])
                    answer = respond(parse_script(script), "POST", PATHS[protocol], json.dumps(body).encode())
                    chunks = [c for _, c in answer.chunks]
                    out.append(
                        Source(
                            f"emulator/{protocol}/{name}/{'stream' if stream else 'json'}"
                            f"/{'native' if tools else 'text'}",
                            protocol,
                            answer.status,
                            tuple(answer.headers),
                            b"".join(chunks),
                            stream,
                            _finish_end(protocol, chunks) if stream else None,
                        )
                    )
        wire = for_protocol(protocol)
        for kind in sorted(HTTP_ANSWER_KINDS):
            answer = wire.error_response(kind, model="emulated-model")
            out.append(
                Source(
                    f"emulator/{protocol}/error/{kind}",
                    protocol,
                    answer.status,
                    tuple(answer.headers),
                    answer.body,
                    False,
                )
            )
    # In-stream errors, in each provider's own shape, after two genuine events.
    for provider, protocol in (
        ("openai", "openai_chat"),
        ("openrouter", "openai_chat"),
        ("groq", "openai_chat"),
        ("anthropic", "anthropic_messages"),
        ("openai-responses", "openai_responses"),
    ):
        request = ModelRequest([UserMessage("go")], TOOLS, True)
        body = get_protocol(protocol).build_request("m", request, provider=provider)  # type: ignore[arg-type]
        answer = respond(parse_script(EMULATOR_SCRIPTS["text"]), "POST", PATHS[protocol], json.dumps(body).encode())
        chunks = [*[c for _, c in answer.chunks][:2], for_protocol(protocol).stream_error_event(provider, model="m")]
        out.append(
            Source(f"emulator/{provider}/sse_error", protocol, 200, tuple(answer.headers), b"".join(chunks), True)
        )
    return tuple(out)


def all_sources() -> tuple[Source, ...]:
    return realworld_sources() + emulator_sources()


# -- independent invariants ------------------------------------------------------------------------------


def pairing_problems(conversation: Sequence[Any]) -> list[str]:
    """Every tool call id non-empty and unique, answered by exactly one result; no result for an unknown id."""
    problems = []
    calls: dict[str, int] = {}
    results: dict[str, int] = {}
    for message in conversation:
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls:
                if not call.id:
                    problems.append(f"a call to {call.name!r} has no id")
                calls[call.id] = calls.get(call.id, 0) + 1
        elif isinstance(message, ToolResult):
            results[message.call_id] = results.get(message.call_id, 0) + 1
    for call_id, n in calls.items():
        if n != 1:
            problems.append(f"call id {call_id!r} used {n} times")
        if results.get(call_id, 0) != 1:
            problems.append(f"call id {call_id!r} has {results.get(call_id, 0)} results")
    for call_id in results:
        if call_id not in calls:
            problems.append(f"result for unknown call id {call_id!r}")
    return problems


def read_run_dir(run_dir: Path) -> dict[str, Any]:
    """Every file of a run directory (docs/design.md, run directory), parsed; raises when one is
    missing or unreadable."""
    meta = run_dir / "meta"
    out: dict[str, Any] = {
        "run": json.loads((meta / "run.json").read_text(encoding="utf-8")),
        "probes": json.loads((meta / "capability_probes.json").read_text(encoding="utf-8")),
        "metrics": json.loads((meta / "provider_metrics.json").read_text(encoding="utf-8")),
        "telemetry": [
            json.loads(line)
            for line in (meta / "telemetry.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ],
        "requests": {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((meta / "requests").iterdir())},
        "raw": {p.stem: p.read_text(encoding="utf-8") for p in sorted((run_dir / "raw" / "responses").iterdir())},
        "errors": {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((run_dir / "errors").iterdir())},
        "conversation": (run_dir / "conversation" / "conversation.md").read_text(encoding="utf-8"),
    }
    return out
