"""The emulated model's script: what it answers, turn by turn, and which turn a request gets.

A scenario's ``script:`` is provider-neutral (docs/design.md, scenario format)::

    script:
      - tool_calls: [{name: list_dir, arguments: {path: "."}}]
      - text: Two files.
        reasoning: The listing shows two files.          # optional
        tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
        finish: stop                                     # optional: stop | length | content_filter
        usage: {input_tokens: 120, output_tokens: 30}    # optional; default derived from the traffic
      - tool_calls: [{name: write_file, raw_arguments: '{"path": "a.txt"'}]   # deliberately malformed

The emulator is stateless: the turn it plays is the number of assistant turns already in the
request's conversation (``turn_index``), so a retried request, or the same conversation sent to
another protocol after a fallback, gets the same turn. Past the end of the script the last turn
repeats (``pick_turn``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agent_runtime.dialect import format_tool_call
from agent_runtime.errors import ConfigError, did_you_mean
from agent_runtime.messages import JSONObject
from pytest_kylecode.wire.common import Plan, PlannedCall, dumps, pieces, request_tokens

TURN_KEYS: Final = ("text", "reasoning", "tool_calls", "finish", "usage")
CALL_KEYS: Final = ("name", "arguments", "raw_arguments")
USAGE_KEYS: Final = ("input_tokens", "output_tokens")
FINISHES: Final = ("stop", "length", "content_filter")


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """One tool call the emulated model makes.

    Exactly one of ``arguments`` (a JSON object, rendered as JSON) and ``raw_arguments``
    (sent verbatim, so a scenario can script invalid JSON) is set.
    """

    name: str
    arguments: JSONObject | None = None
    raw_arguments: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptedUsage:
    """Token counts to report; a ``None`` count is derived from the request and the output."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One model response. ``finish`` ``None`` means the natural one (``tool_calls`` or ``stop``)."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ScriptedCall, ...] = ()
    finish: str | None = None
    usage: ScriptedUsage | None = None


def parse_script(data: object, key: str = "script") -> list[Turn]:
    """Validate a scenario's ``script`` value strictly.

    Raises ``ConfigError`` whose ``key`` is the path of the offending value
    (``script[1].tool_calls[0].name``) and whose message says what was expected and
    what was given; the scenario loader adds ``file:line``.
    """
    if not isinstance(data, list) or not data:
        raise _fail(key, "a non-empty list of turns (each a mapping with text and/or tool_calls)", data)
    return [_parse_turn(item, f"{key}[{i}]") for i, item in enumerate(data)]


def _parse_turn(data: object, key: str) -> Turn:
    if not isinstance(data, Mapping):
        raise _fail(key, "a turn: a mapping with text and/or tool_calls", data)
    _check_keys(data, TURN_KEYS, key)
    text = _optional_str(data, "text", key)
    reasoning = _optional_str(data, "reasoning", key)
    calls: tuple[ScriptedCall, ...] = ()
    if "tool_calls" in data:
        raw = data["tool_calls"]
        if not isinstance(raw, list):
            raise _fail(f"{key}.tool_calls", "a list of tool calls ({name, arguments})", raw)
        calls = tuple(_parse_call(c, f"{key}.tool_calls[{i}]") for i, c in enumerate(raw))
    if not text and not calls:
        raise ConfigError("a turn needs a non-empty 'text' or at least one entry in 'tool_calls'", key=key)
    finish = data.get("finish")
    if finish is not None and finish not in FINISHES:
        raise _fail(f"{key}.finish", "one of " + ", ".join(FINISHES) + did_you_mean(finish, FINISHES), finish)
    usage = _parse_usage(data["usage"], f"{key}.usage") if "usage" in data else None
    return Turn(text=text, reasoning=reasoning, tool_calls=calls, finish=finish, usage=usage)


def _parse_call(data: object, key: str) -> ScriptedCall:
    if not isinstance(data, Mapping):
        raise _fail(key, "a tool call: a mapping with name and arguments", data)
    _check_keys(data, CALL_KEYS, key)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"{key}.name", "the tool's name, a non-empty string", name)
    if "arguments" in data and "raw_arguments" in data:
        raise ConfigError("give either 'arguments' (a mapping) or 'raw_arguments' (a string), not both", key=key)
    if "raw_arguments" in data:
        raw = data["raw_arguments"]
        if not isinstance(raw, str):
            raise _fail(f"{key}.raw_arguments", "a string sent verbatim as the call's arguments", raw)
        return ScriptedCall(name=name, raw_arguments=raw)
    arguments = data.get("arguments", {})
    if not isinstance(arguments, Mapping) or not all(isinstance(k, str) for k in arguments):
        raise _fail(
            f"{key}.arguments",
            "a mapping of argument names to values (use raw_arguments for a deliberately malformed call)",
            arguments,
        )
    return ScriptedCall(name=name, arguments=dict(arguments))


def _parse_usage(data: object, key: str) -> ScriptedUsage:
    if not isinstance(data, Mapping):
        raise _fail(key, "a mapping {input_tokens, output_tokens}", data)
    _check_keys(data, USAGE_KEYS, key)
    counts: dict[str, int] = {}
    for name in USAGE_KEYS:
        if name in data:
            value = data[name]
            # bool is an int subclass; `true` is almost certainly a mistake here
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _fail(f"{key}.{name}", "a non-negative integer", value)
            counts[name] = value
    return ScriptedUsage(**counts)


def _optional_str(data: Mapping[object, object], name: str, key: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(f"{key}.{name}", "a string", value)
    return value


def _check_keys(data: Mapping[object, object], allowed: tuple[str, ...], key: str) -> None:
    for name in data:
        if name not in allowed:
            raise ConfigError(
                f"unknown key {name!r}{did_you_mean(name, allowed)}; allowed keys: {', '.join(allowed)}",
                key=f"{key}.{name}",
            )


def _fail(key: str, expected: str, got: object) -> ConfigError:
    return ConfigError(f"expected {expected}; got {_show(got)}", key=key)


def _show(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return f"{type(value).__name__} {value!r}"


def pick_turn(script: Sequence[Turn], index: int) -> Turn:
    """The turn played for ``index`` assistant turns so far; past the end the last one repeats."""
    return script[min(index, len(script) - 1)]


# -- what a turn answers to one request ---------------------------------------------------------


def make_plan(turn: Turn, body: JSONObject, index: int) -> Plan:
    """Turn a script turn into a plan for this request.

    Without ``tools`` in the request the calls go into the text, one dialect block per line
    group after the text (``dialect.format_tool_call``, the runtime's own format).
    """
    native = bool(body.get("tools"))
    text = turn.text
    calls: tuple[PlannedCall, ...] = ()
    if native:
        calls = tuple(_planned(c) for c in turn.tool_calls)
    elif turn.tool_calls:
        blocks = [
            format_tool_call(c.name, c.raw_arguments if c.raw_arguments is not None else dict(c.arguments or {}))
            for c in turn.tool_calls
        ]
        text = "\n\n".join([text, *blocks] if text else blocks)
    finish = turn.finish or ("tool_calls" if calls else "stop")
    usage = turn.usage or ScriptedUsage()
    out_chars = len(text) + len(turn.reasoning) + sum(len(c.name) + len(c.arguments) for c in calls)
    return Plan(
        index=index,
        model=str(body.get("model") or "emulated-model"),
        stream=body.get("stream") is True,
        text=text,
        text_pieces=pieces(text),
        reasoning=turn.reasoning,
        reasoning_pieces=pieces(turn.reasoning),
        calls=calls,
        finish=finish,
        input_tokens=request_tokens(body) if usage.input_tokens is None else usage.input_tokens,
        output_tokens=max(1, math.ceil(out_chars / 4)) if usage.output_tokens is None else usage.output_tokens,
    )


def _planned(call: ScriptedCall) -> PlannedCall:
    args = call.raw_arguments if call.raw_arguments is not None else dumps(call.arguments or {})
    return PlannedCall(call.name, args, pieces(args))
