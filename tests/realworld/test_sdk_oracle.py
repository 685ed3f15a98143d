"""The official SDKs as oracles: what do they make of the same recorded bytes?

For every interaction of every cassette of the real-world recordings (``shared_dir.REALWORLD``),
``normalize_interaction`` (our protocol modules, through the same ``BodyDecoder`` as a live call) is compared with
what ``openai`` (Chat Completions, Responses) or ``anthropic`` (Messages) derive from the
recorded status, headers and body, served by an ``httpx2.MockTransport`` (the SDKs run on
httpx2), with ``max_retries=0`` and the SDKs' own accumulation helpers for streams:
``ChatCompletionStreamState``, ``messages.stream().get_final_message()``,
``responses.stream().get_final_response()``.

Compared: text, reasoning, role, tool calls (id, name, parsed arguments), finish reason
(raw, and canonical through our table), usage. Where the SDK raises, our ``error.category``
must be the one the SDK's exception means (``SDK_STATUS_CATEGORY``) or, where the body says
more than the status, the one in ``EXPECTED_ERRORS``.

Where we believe the SDK is wrong, the difference is not hidden: ``KNOWN_DISAGREEMENTS``
lists it with the reason, and the test asserts the disagreement is exactly that.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

httpx2 = pytest.importorskip("httpx2")
openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

from openai.lib.streaming.chat import ChatCompletionStreamState  # noqa: E402
from shared_dir import REALWORLD  # noqa: E402

from agent_runtime.wire.protocols.anthropic_messages import map_finish_reason as anthropic_finish  # noqa: E402
from agent_runtime.wire.protocols.openai_chat import map_finish_reason as chat_finish  # noqa: E402
from agent_runtime.wire.protocols.openai_responses import ResponsesStreamDecoder, derive_finish  # noqa: E402
from agent_runtime.wire.sse import SSEEvent, encode_event  # noqa: E402
from pytest_kylecode.cassettes.format import Interaction  # noqa: E402
from pytest_kylecode.cassettes.vcr_reader import read_cassette  # noqa: E402
from pytest_kylecode.normalize import normalize_interaction  # noqa: E402

CHUNKS_FILE = "openai_responses/vercel-ai__openai-error.1.chunks.txt"
MISSING = f"real-world recordings not found at {REALWORLD} (they live outside the repository)"

# What an SDK exception for an HTTP status means in our categories (docs/design.md, error categories).
SDK_STATUS_CATEGORY = {
    400: "bad_request",
    401: "auth",
    403: "auth",
    404: "not_found",
    429: "rate_limit",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    529: "overloaded",
}
# An SDK ``APIError`` raised from inside a 200 stream, unless the body is more specific.
SDK_INBAND_CATEGORY = "stream_error"

# Where the error body says more than the SDK's exception class, our category follows the body.
EXPECTED_ERRORS: dict[tuple[str, int], tuple[str, str]] = {
    ("groq/pydantic-ai__test_tool_use_failed_error.yaml", 0): (
        "malformed_tool_call",
        "HTTP 400 code tool_use_failed: the model's tool call failed Groq's schema check",
    ),
    ("groq/pydantic-ai__test_tool_use_failed_error_streaming.yaml", 0): (
        "malformed_tool_call",
        "event: error with code tool_use_failed inside a 200 stream",
    ),
    (CHUNKS_FILE, 0): ("rate_limit", "in-stream insufficient_quota: the HTTP form of that code is a 429"),
}


@dataclass(frozen=True)
class Prefix:
    """A long value, pinned by its start and length."""

    start: str
    length: int

    def matches(self, value: Any) -> bool:
        return isinstance(value, str) and value.startswith(self.start) and len(value) == self.length


# (cassette, interaction) -> {field: (ours, sdk, why we are right)}
KNOWN_DISAGREEMENTS: dict[tuple[str, int], dict[str, tuple[Any, Any, str]]] = {
    ("openrouter/pydantic-ai__test_openrouter_streaming_reasoning.yaml", 0): {
        "role": (
            "assistant",
            "assistant" * 14,
            "OpenRouter repeats role in every delta; the SDK helper concatenates it",
        ),
    },
    ("zai/pydantic-ai__test_zai_thinking_stream.yaml", 0): {
        "role": (
            "assistant",
            "assistant" * 93,
            "Z.ai repeats role in every delta; the SDK helper concatenates it",
        ),
    },
    ("mistral/pydantic-ai__test_mistral_model_thinking_part_iter.yaml", 0): {
        "reasoning": (
            Prefix("Okay, the user is asking how to cross the street.", 421),
            "",
            "Mistral streams thinking as a list-valued delta.content; the SDK helper cannot "
            "append a list to a string and drops every thinking part",
        ),
    },
}


def _cases() -> list[Any]:
    if not REALWORLD.is_dir():
        return [pytest.param(None, 0, marks=pytest.mark.skip(reason=MISSING), id="realworld-missing")]
    cases = []
    for path in sorted(REALWORLD.glob("*/*.yaml")):
        rel = path.relative_to(REALWORLD).as_posix()
        for index in range(len(_read(path))):
            cases.append(pytest.param(rel, index, id=f"{rel}#{index}"))
    return cases


@functools.cache
def _read(path: Path) -> tuple[Interaction, ...]:
    return tuple(read_cassette(path))


# -- the SDK side ------------------------------------------------------------------------------------


@dataclass
class SdkView:
    text: str = ""
    reasoning: str = ""
    role: str | None = None
    tool_calls: list[tuple[str, str, Any]] = field(default_factory=list)
    raw_finish: str | None = None
    finish: str | None = None
    usage: tuple[int, int] = (0, 0)
    error: Exception | None = None


def _http(interaction: Interaction) -> Any:
    # The reader already decompressed the body; lengths of re-serialized JSON bodies differ.
    headers = {
        k: v
        for k, v in interaction.response_headers.items()
        if k not in ("content-length", "content-encoding", "transfer-encoding")
    }

    def handler(request: Any) -> Any:
        return httpx2.Response(interaction.status, headers=headers, content=interaction.body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def _arguments(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return text


def _chat(interaction: Interaction, streaming: bool) -> SdkView:
    client = openai.OpenAI(
        api_key="test", base_url="http://sdk.invalid/v1", http_client=_http(interaction), max_retries=0
    )
    ask = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if streaming:
        state = ChatCompletionStreamState()
        for chunk in client.chat.completions.create(**ask, stream=True):
            state.handle_chunk(chunk)
        completion = state.get_final_completion()
    else:
        completion = client.chat.completions.create(**ask)
    choice = completion.choices[0]
    message = choice.message.to_dict()
    usage = completion.usage
    return SdkView(
        text=message.get("content") or "",
        reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
        role=message.get("role"),
        tool_calls=[(c.id, c.function.name, _arguments(c.function.arguments)) for c in choice.message.tool_calls or ()],
        raw_finish=choice.finish_reason,
        finish=chat_finish(choice.finish_reason) if choice.finish_reason else None,
        usage=(usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0),
    )


def _messages(interaction: Interaction, streaming: bool) -> SdkView:
    client = anthropic.Anthropic(
        api_key="test", base_url="http://sdk.invalid", http_client=_http(interaction), max_retries=0
    )
    ask = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    if streaming:
        with client.messages.stream(**ask) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**ask)
    blocks = message.content
    return SdkView(
        text="".join(b.text for b in blocks if b.type == "text"),
        reasoning="".join(b.thinking for b in blocks if b.type == "thinking"),
        role=message.role,
        tool_calls=[(b.id, b.name, b.input) for b in blocks if b.type == "tool_use"],
        raw_finish=message.stop_reason,
        finish=anthropic_finish(message.stop_reason) if message.stop_reason else None,
        usage=(message.usage.input_tokens, message.usage.output_tokens),
    )


def _responses(interaction: Interaction, streaming: bool) -> SdkView:
    client = openai.OpenAI(
        api_key="test", base_url="http://sdk.invalid/v1", http_client=_http(interaction), max_retries=0
    )
    if streaming:
        with client.responses.stream(model="m", input="hi") as stream:
            response = stream.get_final_response()
    else:
        response = client.responses.create(model="m", input="hi")
    calls = [(o.call_id, o.name, _arguments(o.arguments)) for o in response.output if o.type == "function_call"]
    summaries = [part.text for o in response.output if o.type == "reasoning" for part in o.summary or ()]
    finish, raw = derive_finish(response.to_dict(), bool(calls))
    usage = response.usage
    return SdkView(
        text=response.output_text,
        reasoning="\n\n".join(summaries),
        tool_calls=calls,
        raw_finish=raw,
        finish=finish,
        usage=(usage.input_tokens, usage.output_tokens) if usage else (0, 0),
    )


SDK_CALLS = {"openai_chat": _chat, "anthropic_messages": _messages, "openai_responses": _responses}


def sdk_view(protocol: str, interaction: Interaction, streaming: bool) -> SdkView:
    # The SDKs' own warnings (pydantic serializer complaints on Mistral's list content) are
    # not ours to fix; everything else still runs under filterwarnings=error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return SDK_CALLS[protocol](interaction, streaming)
        except (openai.APIError, anthropic.APIError) as exc:
            return SdkView(error=exc)


def _sdk_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return str(getattr(exc, "message", exc))


def expected_category(key: tuple[str, int], exc: Exception) -> str:
    if key in EXPECTED_ERRORS:
        return EXPECTED_ERRORS[key][0]
    status = getattr(exc, "status_code", None)
    return SDK_STATUS_CATEGORY[status] if status is not None else SDK_INBAND_CATEGORY


def comparable(ours: dict[str, Any], sdk: SdkView) -> dict[str, tuple[Any, Any]]:
    """field -> (ours, sdk) for every compared field."""
    pairs = {
        "text": (ours["text"], sdk.text),
        "reasoning": (ours["reasoning"], sdk.reasoning),
        "tool_calls": ([(c["id"], c["name"], c["arguments"]) for c in ours["tool_calls"]], sdk.tool_calls),
        "raw_finish_reason": (ours["raw_finish_reason"], sdk.raw_finish),
        "finish_reason": (ours["finish_reason"], sdk.finish),
        "usage": ((ours["usage"]["input_tokens"], ours["usage"]["output_tokens"]), sdk.usage),
    }
    if sdk.role is not None:
        pairs["role"] = ("assistant", sdk.role)  # canonical messages have exactly one role
    return pairs


def disagreements(key: tuple[str, int], pairs: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    return {name: (o, s) for name, (o, s) in pairs.items() if o != s}


def check_known(key: tuple[str, int], found: dict[str, tuple[Any, Any]]) -> None:
    known = KNOWN_DISAGREEMENTS.get(key, {})
    assert set(found) == set(known), f"disagreements {sorted(found)} != listed {sorted(known)}: {found}"
    for name, (ours_expected, sdk_expected, _why) in known.items():
        ours_value, sdk_value = found[name]
        ok = ours_expected.matches(ours_value) if isinstance(ours_expected, Prefix) else ours_value == ours_expected
        assert ok, f"{name}: ours {ours_value!r} is not the listed {ours_expected!r}"
        assert sdk_value == sdk_expected, f"{name}: the SDK's {sdk_value!r} is not the listed {sdk_expected!r}"


# -- the tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel, index", _cases())
def test_interaction_agrees_with_sdk(rel: str, index: int) -> None:
    interaction = _read(REALWORLD / rel)[index]
    ours = normalize_interaction(interaction, index)
    key = (rel, index)
    if ours["protocol"] is None:
        # Not a model call (llm-openrouter lists models first): nothing to decode, nothing to compare.
        assert interaction.method == "GET" and ours["error"] is None and not ours["tool_calls"]
        return
    sdk = sdk_view(ours["protocol"], interaction, ours["streaming"])
    if sdk.error is not None:
        assert ours["error"] is not None, f"the SDK raised {sdk.error!r}; we decoded {ours}"
        assert ours["error"]["category"] == expected_category(key, sdk.error)
        assert _sdk_message(sdk.error) in ours["error"]["message"]
        assert key not in KNOWN_DISAGREEMENTS
        return
    assert ours["error"] is None, f"we report {ours['error']}; the SDK decoded the response without error"
    check_known(key, disagreements(key, comparable(ours, sdk)))


def test_known_disagreements_and_expected_errors_name_real_interactions() -> None:
    if not REALWORLD.is_dir():
        pytest.skip(MISSING)
    for rel, index in [*KNOWN_DISAGREEMENTS, *EXPECTED_ERRORS]:
        path = REALWORLD / rel
        assert path.is_file(), rel
        if path.suffix == ".yaml":
            assert index < len(_read(path)), (rel, index)


def _chunk_lines() -> list[str]:
    return [line for line in (REALWORLD / CHUNKS_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_responses_chunks_file_in_our_decoder() -> None:
    """vercel-ai's chunks.txt is not a cassette: one data payload per line, framing stripped."""
    if not REALWORLD.is_dir():
        pytest.skip(MISSING)
    decoder = ResponsesStreamDecoder()
    events = [e for line in _chunk_lines() for e in decoder.feed(SSEEvent(None, line))]
    response = decoder.finish()
    assert [e.kind for e in events] == ["stream_failed"]
    assert response.finish_reason == "error"
    assert response.error is not None
    assert response.error.category == EXPECTED_ERRORS[(CHUNKS_FILE, 0)][0]
    assert "You exceeded your current quota" in response.error.message
    assert response.model == "gpt-5-nano-2025-08-07"


def test_responses_chunks_file_in_the_sdk() -> None:
    """The same payloads re-framed as SSE: the SDK raises on the nested ``error`` event, as we fail."""
    if not REALWORLD.is_dir():
        pytest.skip(MISSING)
    lines = _chunk_lines()
    body = b"".join(encode_event(json.loads(line)["type"], line) for line in lines)
    interaction = Interaction(
        method="POST",
        uri="https://api.openai.com/v1/responses",
        request_headers={},
        request_json={"stream": True},
        status=200,
        reason="OK",
        response_headers={"content-type": "text/event-stream; charset=utf-8"},
        chunks=[(0.0, body)],
    )
    sdk = sdk_view("openai_responses", interaction, True)
    assert isinstance(sdk.error, openai.APIError) and not isinstance(sdk.error, openai.APIStatusError)
    ours = normalize_interaction(interaction, 0)
    assert ours["error"]["category"] == expected_category((CHUNKS_FILE, 0), sdk.error)
    assert _sdk_message(sdk.error) in ours["error"]["message"]


# Corpus numbers: reading must not silently lose a file or an interaction.
EXPECTED_CASSETTES = 37  # + the chunks.txt file
EXPECTED_INTERACTIONS = 59


def test_corpus_counts_and_agreement_summary() -> None:
    if not REALWORLD.is_dir():
        pytest.skip(MISSING)
    paths = sorted(REALWORLD.glob("*/*.yaml"))
    tally = {
        "interactions": 0,
        "not_model_calls": 0,
        "sdk_errors_agreed": 0,
        "responses_compared": 0,
        "fields_compared": 0,
        "fields_agreed": 0,
        "fields_known_disagreement": 0,
    }
    for path in paths:
        rel = path.relative_to(REALWORLD).as_posix()
        for index, interaction in enumerate(_read(path)):
            tally["interactions"] += 1
            ours = normalize_interaction(interaction, index)
            if ours["protocol"] is None:
                tally["not_model_calls"] += 1
                continue
            sdk = sdk_view(ours["protocol"], interaction, ours["streaming"])
            if sdk.error is not None:
                tally["sdk_errors_agreed"] += ours["error"]["category"] == expected_category((rel, index), sdk.error)
                continue
            tally["responses_compared"] += 1
            pairs = comparable(ours, sdk)
            found = disagreements((rel, index), pairs)
            tally["fields_compared"] += len(pairs)
            tally["fields_agreed"] += len(pairs) - len(found)
            tally["fields_known_disagreement"] += len(found)
    assert len(paths) == EXPECTED_CASSETTES
    assert (REALWORLD / CHUNKS_FILE).is_file()
    assert tally == {
        "interactions": EXPECTED_INTERACTIONS,
        "not_model_calls": 1,
        "sdk_errors_agreed": 12,
        "responses_compared": 46,
        "fields_compared": 314,
        "fields_agreed": 311,
        "fields_known_disagreement": 3,
    }, tally
