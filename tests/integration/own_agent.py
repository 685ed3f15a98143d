"""A user's own agent on plain httpx, and the scenario that runs it (its factory set per test)."""

from __future__ import annotations

import textwrap

import pytest

SCENARIO = """
name: own
task: Write notes.txt, then finish.
agent:
  factory: {factory}
  max_steps: 4
script:
  - tool_calls: [{name: write_file, arguments: {path: notes.txt, content: "hi\\n"}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [false]
  tools: [native]
  fault: [none, http_503]
expect: {outcome: completed, completion_reason: tool_finish, steps: 2, tool_sequence: [write_file, mark_task_complete],
         files: {notes.txt: "hi\\n"}}
overrides:
  - when: {fault: http_503}
    expect: {retries: 1, metrics: {summary.calls: 3, "routes[openai/gpt-4o-mini].errors.server_error": 1}}
"""


# A tiny agent on plain httpx: retries a 5xx once, runs write_file, stops at mark_task_complete.
AGENT = """
import json
from pathlib import Path
from pytest_kylecode.byo import AgentReport

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("write_file", "mark_task_complete")]


def run(ctx):
    messages = [{"role": "user", "content": ctx.task}]
    calls, results = [], []
    with ctx.httpx_client() as http:
        for step in range(1, ctx.config.max_steps + 1):
            for _ in range(2):
                r = http.post(ctx.base_url + "/chat/completions", headers={"authorization": "Bearer " + ctx.api_key},
                              json={"model": ctx.model, "messages": messages, "tools": TOOLS})
                if r.status_code < 500:
                    break
            message = r.json()["choices"][0]["message"]
            messages.append(message)
            for call in message["tool_calls"]:
                args = json.loads(call["function"]["arguments"])
                calls.append({"id": call["id"], "name": call["function"]["name"], "arguments": args})
                results.append({"id": call["id"]})
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})
                if call["function"]["name"] == "write_file":
                    (Path(ctx.workspace) / args["path"]).write_text(args["content"])
                else:
                    return AgentReport(outcome="completed", completion_reason="tool_finish", steps=step,
                                       tool_calls=calls, tool_results=results)
    return AgentReport(outcome="max_steps", tool_calls=calls, tool_results=results)


def drops_the_last_result(ctx):
    report = run(ctx)
    return AgentReport(outcome=report.outcome, completion_reason=report.completion_reason, steps=report.steps,
                       tool_calls=report.tool_calls, tool_results=list(report.tool_results)[:-1])


def catches_its_own_error(ctx):
    with ctx.httpx_client() as http:
        r = http.post(ctx.base_url + "/chat/completions",
                      json={"model": ctx.model, "messages": [{"role": "user", "content": ctx.task}]})
    try:
        answer = (r.json(), r.status_code)
        answer.choices
    except AttributeError as exc:
        return AgentReport(outcome="failed", exception=exc)


def also_calls_home(ctx):
    # in replay only (KYLECODE_TEST_CALL_HOME): a client of its own, past the cell's transport
    import os
    import httpx
    if os.environ.get("KYLECODE_TEST_CALL_HOME"):
        try:
            httpx.get("https://api.openai.com/v1/models", timeout=5)
        except httpx.HTTPError:
            pass  # what a tracing exporter does: swallow it and go on
    return run(ctx)


async def run_async(ctx):
    return run(ctx)


def crash(ctx):
    with ctx.httpx_client() as http:
        http.post(ctx.base_url + "/chat/completions",
                  json={"model": ctx.model, "messages": [{"role": "user", "content": "x"}]})
    raise ValueError("boom")


def wrong(ctx):
    return {"outcome": "done"}


def silent(ctx):
    return None


def reports_itself(ctx):
    ctx.report(run(ctx))


NOT_CALLABLE = 3
"""


def write_project(project: pytest.Pytester, factory: str = "myagent:run", **replace: str) -> None:
    """scenarios/own.yaml running ``factory`` (with ``replace``'s edits), and myagent.py beside it."""
    text = SCENARIO.replace("{factory}", factory)
    for old, new in replace.items():
        text = text.replace(old, new)
    if "fault: [none, http_503]" not in text:
        # The override is for the http_503 cell: a matrix without that cell must not keep it
        # (validation refuses an override that selects no cell).
        text = text[: text.index("overrides:")]
    (project.path / "scenarios").mkdir(exist_ok=True)
    (project.path / "scenarios" / "own.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (project.path / "myagent.py").write_text(AGENT, encoding="utf-8")
