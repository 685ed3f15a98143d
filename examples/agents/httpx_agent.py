"""A small agent on plain ``httpx``: Chat Completions without an SDK, with its own recovery.

It shows what an SDK otherwise hides, and what the harness measures from the wire:
- a 429 is retried after its ``Retry-After`` (waiting on ``ctx.clock``, the cell clock:
  in the matrix no wall time passes; outside it, pass any object with ``sleep``);
- a 5xx is retried once;
- anything else unusable (an HTML page, a body that is not a completion) moves the run to
  the next route of ``ctx.failover`` for good: a fallback in the metrics.
Driven by ``test_httpx_agent.py`` through the ``kylecode_cell`` fixture.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from pytest_kylecode.byo import AgentReport, CellContext

from .tools import FINISH, SPECS, Workspace

SYSTEM = "You are a careful coding agent. Use the tools; call mark_task_complete when the task is done."
TOOLS = [{"type": "function", "function": spec} for spec in SPECS]


class NoRouteLeft(Exception):
    pass


def run(ctx: CellContext) -> AgentReport:
    routes = [ctx.route, *ctx.failover]
    workspace = Workspace(ctx.workspace)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ctx.task}]
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    with ctx.httpx_client() as http:
        for step in range(1, ctx.config.max_steps + 1):
            try:
                message = _complete(http, ctx, routes, messages)
            except NoRouteLeft as exc:
                return AgentReport(
                    outcome="failed", error_message=str(exc), steps=step - 1, tool_calls=calls, tool_results=results
                )
            messages.append(
                {
                    "role": "assistant",
                    "content": message.get("content"),
                    **({"tool_calls": message["tool_calls"]} if message.get("tool_calls") else {}),
                }
            )
            finished = False
            for call in message.get("tool_calls") or []:
                name = call["function"]["name"]
                arguments = json.loads(call["function"]["arguments"] or "{}")
                calls.append({"id": call["id"], "name": name, "arguments": arguments})
                output, is_error = workspace.run(name, arguments)
                results.append({"id": call["id"], "error": is_error})
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
                finished = finished or (name == FINISH and not is_error)
            if finished:
                return AgentReport(
                    outcome="completed",
                    completion_reason="tool_finish",
                    steps=step,
                    tool_calls=calls,
                    tool_results=results,
                )
    return AgentReport(outcome="max_steps", steps=ctx.config.max_steps, tool_calls=calls, tool_results=results)


def _complete(
    http: httpx.Client, ctx: CellContext, routes: list[str], messages: list[dict[str, Any]]
) -> dict[str, Any]:
    """The assistant message of one turn; ``routes[0]`` is the route in use (a fallback drops it)."""
    while routes:
        route = routes[0]
        model = route.split("/", 1)[1]
        for attempt in range(4):
            response = http.post(
                f"{ctx.base_url_for(route)}/chat/completions",
                headers={"authorization": f"Bearer {ctx.api_key_for(route)}"},
                json={"model": model, "messages": messages, "tools": TOOLS},
            )
            if response.status_code == 429 and attempt < 3:
                ctx.clock.sleep(float(response.headers.get("retry-after", "1")))
                continue
            if response.status_code >= 500 and attempt < 1:
                continue
            message = _message(response)
            if message is not None:
                return message
            break
        routes.pop(0)  # unusable: fall back to the next route for the rest of the run
    raise NoRouteLeft("no route left: every route answered with something unusable")


def _message(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return None
    try:
        message: dict[str, Any] = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return message
