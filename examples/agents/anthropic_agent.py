"""A small async agent on the official ``anthropic`` SDK: Messages with tools, ``messages.stream``.

An ordinary asyncio agent loop: stream the model's turn, run the tools it calls, send all
results back in one user message, stop at ``mark_task_complete``. Its client comes from
``ctx.async_anthropic_client()`` (an ``AsyncAnthropic`` on an ``httpx2.AsyncClient`` wired
to the cell; the SDK's retries back off on the cell clock). The factory is ``async def``:
the harness runs it to completion. Named in ``scenarios/anthropic_sdk_agent.yaml``.

Error handling (what the matrix checks):
- the SDK retries 429/5xx/529 itself; what it gives up on arrives as ``anthropic.APIError``;
- a stream that stalls past the client's read timeout raises ``httpx2.ReadTimeout``
  (on the cell clock: no wall time passes), and a stream that ends without a stop reason
  (cut, or an HTML page with no events) is unusable: such a turn is asked again once, then
  the run fails. ``KYLECODE_EXAMPLE_NO_ERROR_HANDLING=1`` turns this off.
"""

from __future__ import annotations

import os
from typing import Any

import anthropic
import httpx2

from pytest_kylecode.byo import AgentReport, CellContext

from .tools import FINISH, SPECS, Workspace

SYSTEM = "You are a careful coding agent. Use the tools; call mark_task_complete when the task is done."
TOOLS = [{"name": s["name"], "description": s["description"], "input_schema": s["parameters"]} for s in SPECS]
MAX_TOKENS = 1024


class TurnFailed(Exception):
    """A model turn that produced nothing usable."""


def handles_errors() -> bool:
    return os.environ.get("KYLECODE_EXAMPLE_NO_ERROR_HANDLING") != "1"


async def run(ctx: CellContext) -> AgentReport:
    client = ctx.async_anthropic_client()
    workspace = Workspace(ctx.workspace)
    messages: list[dict[str, Any]] = [{"role": "user", "content": ctx.task}]
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    steps = 0
    try:
        while steps < ctx.config.max_steps:
            try:
                content = await _turn(client, ctx, messages)
            except (anthropic.APIError, httpx2.HTTPError, TurnFailed) as exc:
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
            messages.append({"role": "assistant", "content": content})
            uses = [block for block in content if block["type"] == "tool_use"]
            if not uses:
                messages.append({"role": "user", "content": "Continue with the tools; call mark_task_complete."})
                continue
            answers, finished = [], False
            for use in uses:
                calls.append({"id": use["id"], "name": use["name"], "arguments": use["input"]})
                output, is_error = workspace.run(use["name"], use["input"])
                results.append({"id": use["id"], "error": is_error})
                answers.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": use["id"],
                        "content": output,
                        **({"is_error": True} if is_error else {}),
                    }
                )
                finished = finished or (use["name"] == FINISH and not is_error)
            messages.append({"role": "user", "content": answers})
            if finished:
                return AgentReport(
                    outcome="completed",
                    completion_reason="tool_finish",
                    steps=steps,
                    tool_calls=calls,
                    tool_results=results,
                )
        return AgentReport(outcome="max_steps", steps=steps, tool_calls=calls, tool_results=results)
    finally:
        await client.close()


async def _turn(
    client: anthropic.AsyncAnthropic, ctx: CellContext, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One model turn as the content blocks to send back; an unusable turn gets one more try."""
    tries = 2 if handles_errors() else 1
    problem = ""
    for _ in range(tries):
        try:
            if ctx.streaming:
                async with client.messages.stream(
                    model=ctx.model, max_tokens=MAX_TOKENS, system=SYSTEM, messages=messages, tools=TOOLS
                ) as stream:
                    message = await stream.get_final_message()
            else:
                message = await client.messages.create(
                    model=ctx.model, max_tokens=MAX_TOKENS, system=SYSTEM, messages=messages, tools=TOOLS
                )
        except httpx2.TimeoutException as exc:  # a stalled stream: the SDK does not retry mid-body
            if not handles_errors():
                raise
            problem = f"{type(exc).__name__}: {exc}"
            continue
        except (AssertionError, RuntimeError) as exc:  # the stream accumulator saw no message at all
            if not handles_errors():
                raise
            problem = f"no message in the stream ({exc or type(exc).__name__})"
            continue
        if not handles_errors() or (isinstance(message, anthropic.types.Message) and message.stop_reason):
            return [_block(b) for b in message.content]
        problem = f"unusable answer (stop reason {getattr(message, 'stop_reason', None)!r})"
    raise TurnFailed(f"{problem} ({tries} tries)")


def _block(block: Any) -> dict[str, Any]:
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {"type": "text", "text": block.text}
