#!/usr/bin/env python3
"""A coding agent in one file of standard-library Python, run by the matrix as a program.

It knows nothing of pytest or kylecode's packages: it reads the variables a cell gives every
program (OPENAI_BASE_URL, OPENAI_API_KEY, KYLECODE_MODEL, KYLECODE_STREAMING, KYLECODE_TASK_FILE,
KYLECODE_IDLE_TIMEOUT_S, KYLECODE_MAX_STEPS, ...), talks Chat Completions with urllib, runs its
four tools in the current directory (the cell's workspace), and writes its report to the file
named on its command line. Recovery: every unusable answer (an HTTP error, an HTML page, a body
that is no completion, a stream cut short or ending in an error event) is asked again, up to
three attempts per turn; a 429 first waits its Retry-After. A turn that fails three times ends
the run: outcome failed, exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

TOOLS = [
    {"name": "list_dir", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
    {
        "name": "read_file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "write_file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": "mark_task_complete",
        "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
    },
]
ATTEMPTS = 3


class Unusable(Exception):
    """An answer the agent cannot use; ``retry_after``: how long the provider asked it to wait."""

    def __init__(self, why: str, retry_after: float = 0.0) -> None:
        super().__init__(why)
        self.retry_after = retry_after


def main(report_file: str) -> int:
    env = os.environ
    base_url, key, model = env["OPENAI_BASE_URL"].rstrip("/"), env["OPENAI_API_KEY"], env["KYLECODE_MODEL"]
    streaming = env["KYLECODE_STREAMING"] == "true"
    timeout = float(env["KYLECODE_IDLE_TIMEOUT_S"])
    task = Path(env["KYLECODE_TASK_FILE"]).read_text(encoding="utf-8")
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are a careful coding agent. Call mark_task_complete when done."},
        {"role": "user", "content": task},
    ]
    calls: list[dict[str, object]] = []
    results: list[dict[str, object]] = []

    def report(outcome: str, **fields: object) -> None:
        data = {"outcome": outcome, "tool_calls": calls, "tool_results": results, **fields}
        Path(report_file).write_text(json.dumps(data, indent=2), encoding="utf-8")

    for step in range(1, int(env["KYLECODE_MAX_STEPS"]) + 1):
        body = {
            "model": model,
            "messages": messages,
            "tools": [{"type": "function", "function": tool} for tool in TOOLS],
            "stream": streaming,
        }
        try:
            message = ask(f"{base_url}/chat/completions", key, body, timeout)
        except Unusable as exc:
            print(f"giving up on turn {step}: {exc}", file=sys.stderr)
            report("failed", steps=step - 1, error_message=str(exc))
            return 1
        messages.append(message)
        finished = False
        for call in message.get("tool_calls") or []:
            name, raw = call["function"]["name"], call["function"]["arguments"] or "{}"
            try:
                arguments = json.loads(raw)
            except ValueError:
                calls.append({"id": call["id"], "name": name, "arguments": raw})
                results.append({"id": call["id"], "error": True, "executed": False})
                output = "error: the arguments are not valid JSON; nothing was run"
            else:
                calls.append({"id": call["id"], "name": name, "arguments": arguments})
                output, failed = run_tool(name, arguments)
                results.append({"id": call["id"], "error": failed})
                finished = finished or (name == "mark_task_complete" and not failed)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        if finished:
            report("completed", completion_reason="tool_finish", steps=step)
            return 0
    report("max_steps", steps=int(env["KYLECODE_MAX_STEPS"]))
    return 1


def ask(url: str, key: str, body: dict[str, object], timeout: float) -> dict[str, object]:
    """The assistant message of one turn, asking up to ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return complete(url, key, body, timeout)
        except Unusable as exc:
            print(f"attempt {attempt}: {exc}", file=sys.stderr)
            if attempt == ATTEMPTS:
                raise
            time.sleep(exc.retry_after)
    raise AssertionError("unreachable")


def complete(url: str, key: str, body: dict[str, object], timeout: float) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get("content-type", "")
            if "text/event-stream" in kind:
                return from_stream(response)
            text = response.read()
    except urllib.error.HTTPError as exc:
        wait = float(exc.headers.get("retry-after", "0") or 0) if exc.code == 429 else 0.0
        raise Unusable(f"HTTP {exc.code}", retry_after=wait) from None
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, cut short
        raise Unusable(f"connection: {exc}") from None
    if "json" not in kind:
        raise Unusable(f"not JSON but {kind or 'no content type'}")
    try:
        message = json.loads(text)["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Unusable("a body that is no chat completion") from None
    return {"role": "assistant", "content": message.get("content"), **tool_calls_of(message)}


def from_stream(response: object) -> dict[str, object]:
    """The message a Chat Completions stream builds; Unusable if it errs or stops before its end."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finished = False
    for raw in response:  # type: ignore[attr-defined]
        line = raw.decode("utf-8").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if "error" in event:
            raise Unusable(f"error event in the stream: {event['error'].get('message')}")
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for part in delta.get("tool_calls") or []:
                call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] = part.get("id") or call["id"]
                function = part.get("function") or {}
                call["name"] = function.get("name") or call["name"]
                call["arguments"] += function.get("arguments") or ""
            finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        raise Unusable("the stream ended before its finish")
    message = {
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(calls.items())
        ]
    }
    return {"role": "assistant", "content": "".join(text) or None, **tool_calls_of(message)}


def tool_calls_of(message: dict[str, object]) -> dict[str, object]:
    return {"tool_calls": message["tool_calls"]} if message.get("tool_calls") else {}


def run_tool(name: str, arguments: dict[str, str]) -> tuple[str, bool]:
    """(output, failed) of one tool call in the workspace (the current directory)."""
    root = Path.cwd().resolve()
    path = (root / arguments.get("path", ".")).resolve()
    if root not in (path, *path.parents):
        return "error: the path leaves the workspace", True
    try:
        if name == "list_dir":
            return "\n".join(p.name + ("/" if p.is_dir() else "") for p in sorted(path.iterdir())), False
        if name == "read_file":
            return path.read_text(encoding="utf-8"), False
        if name == "write_file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(arguments["content"], encoding="utf-8")
            return f"wrote {len(arguments['content'])} characters", False
        if name == "mark_task_complete":
            return "done", False
    except (OSError, KeyError) as exc:
        return f"error: {exc}", True
    return f"error: no tool named {name}", True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
