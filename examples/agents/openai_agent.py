"""A small agent on the official ``openai`` SDK: Chat Completions with tools, streamed or not.

It is an ordinary agent loop (ask the model, run the tools it calls, send the results back,
stop at ``mark_task_complete``) that knows nothing of pytest. The one line that ties it to
the matrix is where the client comes from: ``ctx.openai_client()`` (base URL, key, and an
httpx2 client wired to the cell's fault and cassette; the SDK's own retries back off on the
cell clock). Named in ``scenarios/openai_sdk_agent.yaml`` as ``agent: {factory:
"agents.openai_agent:run"}``.

Error handling (what the matrix checks):
- the SDK retries 429/5xx itself; what it gives up on arrives as ``openai.APIError``;
- a 200 that is not JSON (an HTML gateway page) comes back from the SDK as a plain ``str``, and
  a stream that ends without a ``finish_reason`` (cut, or an HTML page) yields no finish: such
  an unusable answer is asked again once, then the run fails.
Setting ``KYLECODE_EXAMPLE_NO_ERROR_HANDLING=1`` turns all three off, to show the matrix
going red.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from pytest_kylecode.byo import AgentReport, CellContext

from .tools import FINISH, SPECS, Workspace

SYSTEM = "You are a careful coding agent. Use the tools; call mark_task_complete when the task is done."
TOOLS = [{"type": "function", "function": spec} for spec in SPECS]


class TurnFailed(Exception):
    """A model turn that produced nothing usable."""


def handles_errors() -> bool:
    return os.environ.get("KYLECODE_EXAMPLE_NO_ERROR_HANDLING") != "1"


def run(ctx: CellContext) -> AgentReport:
    client = ctx.openai_client()
    workspace = Workspace(ctx.workspace)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ctx.task}]
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    steps = 0
    while steps < ctx.config.max_steps:
        try:
            text, tool_calls = _turn(client, ctx, messages)
        except (openai.APIError, httpx2.HTTPError, TurnFailed) as exc:
            if not handles_errors():
                raise
            return AgentReport(
                outcome="failed",
                error_message=f"{type(exc).__name__}: {exc}",
                steps=steps,
                tool_calls=calls,
                tool_results=results,
            )
        steps += 1
        messages.append(
            {"role": "assistant", "content": text or None, **({"tool_calls": tool_calls} if tool_calls else {})}
        )
        if not tool_calls:
            messages.append({"role": "user", "content": "Continue with the tools; call mark_task_complete when done."})
        finished = False
        for call in tool_calls:
            name, raw = call["function"]["name"], call["function"]["arguments"]
            try:
                arguments = json.loads(raw or "{}")
            except ValueError:
                calls.append({"id": call["id"], "name": name, "arguments": raw})
                results.append({"id": call["id"], "error": True, "executed": False})
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": "error: arguments are not JSON"}
                )
                continue
            calls.append({"id": call["id"], "name": name, "arguments": arguments})
            output, is_error = workspace.run(name, arguments)
            results.append({"id": call["id"], "error": is_error})
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
            finished = finished or (name == FINISH and not is_error)
        if finished:
            return AgentReport(
                outcome="completed",
                completion_reason="tool_finish",
                steps=steps,
                tool_calls=calls,
                tool_results=results,
            )
    return AgentReport(outcome="max_steps", steps=steps, tool_calls=calls, tool_results=results)


def _turn(client: openai.OpenAI, ctx: CellContext, messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One model turn: (text, tool calls in the request's own shape).

    An unusable answer (not a completion, or a stream without a finish_reason) gets one more try.
    """
    tries = 2 if handles_errors() else 1
    for _ in range(tries):
        if ctx.streaming:
            text, tool_calls, finish = _streamed(client, ctx, messages)
            if finish is not None or not handles_errors():
                return text, tool_calls
            problem = "the stream ended without a finish_reason"
            continue
        completion = client.chat.completions.create(model=ctx.model, messages=messages, tools=TOOLS)
        if handles_errors() and not isinstance(completion, ChatCompletion):
            problem = f"the answer is not a completion: {completion!r:.60}"
            continue
        message = completion.choices[0].message
        tool_calls = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls or []
        ]
        return message.content or "", tool_calls
    raise TurnFailed(f"{problem} ({tries} tries)")


def _streamed(
    client: openai.OpenAI, ctx: CellContext, messages: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]], str | None]:
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    stream = client.chat.completions.create(
        model=ctx.model, messages=messages, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    with stream:
        for chunk in stream:
            for choice in chunk.choices:
                delta = choice.delta
                text.append(delta.content or "")
                for part in delta.tool_calls or []:
                    call = calls.setdefault(
                        part.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                    # id and name come once, in the first delta of a call; arguments come in pieces
                    call["id"] = call["id"] or part.id or ""
                    if part.function is not None:
                        call["function"]["name"] = call["function"]["name"] or part.function.name or ""
                        call["function"]["arguments"] += part.function.arguments or ""
                finish = choice.finish_reason or finish
    return "".join(text), [calls[i] for i in sorted(calls)], finish
