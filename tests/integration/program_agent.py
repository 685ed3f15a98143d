"""A program as a cell's agent (``agent.command``), and the scenario that runs it: the same agent as
``own_agent.AGENT`` (same requests, same recovery), written as a standard-library script."""

from __future__ import annotations

import sys
import textwrap

import pytest

SCENARIO = """
name: prog
task: Write notes.txt, then finish.
agent:
  command: [{python}, "{{scenario_dir}}/../prog.py", "{{report_file}}"]
  timeout_s: 30
  max_steps: 4
script:
  - tool_calls: [{{name: write_file, arguments: {{path: notes.txt, content: "hi\\n"}}}}]
  - tool_calls: [{{name: mark_task_complete, arguments: {{summary: done}}}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [false]
  tools: [native]
  fault: [none, http_503]
expect: {{outcome: completed, completion_reason: tool_finish, steps: 2, tool_sequence: [write_file, mark_task_complete],
         files: {{notes.txt: "hi\\n"}}}}
overrides:
  - when: {{fault: http_503}}
    expect: {{retries: 1, metrics: {{summary.calls: 3, "routes[openai/gpt-4o-mini].errors.server_error": 1}}}}
"""

# Retries a 5xx once, runs write_file, stops at mark_task_complete; reports nothing unless given a
# report file; ``MODE`` (a variable of the scenario's agent.env) makes it misbehave on purpose.
PROGRAM = """
import json, os, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path

MODE = os.environ.get("MODE", "")
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("write_file", "mark_task_complete")]


def post(body):
    request = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"] + "/chat/completions",
        data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer " + os.environ["OPENAI_API_KEY"]})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        print(f"HTTP {exc.code} from the provider", file=sys.stderr)
        return exc.code, exc.read()


if MODE == "env":
    Path(os.environ["OUT"]).write_text(json.dumps({**os.environ, "cwd": os.getcwd()}, sort_keys=True))
if MODE == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(os.environ["OUT"]).write_text(str(child.pid))
    time.sleep(600)
task = Path(os.environ["KYLECODE_TASK_FILE"]).read_text()
messages = [{"role": "user", "content": task}]
calls, results = [], []
for step in range(1, int(os.environ["KYLECODE_MAX_STEPS"]) + 1):
    for _ in range(2):
        status, raw = post({"model": os.environ["KYLECODE_MODEL"], "messages": messages, "tools": TOOLS})
        if status < 500:
            break
    if MODE == "crash":
        print("Traceback (most recent call last):\\nRuntimeError: the agent gave up", file=sys.stderr)
        sys.exit(3)
    message = json.loads(raw)["choices"][0]["message"]
    messages.append(message)
    for call in message["tool_calls"]:
        args = json.loads(call["function"]["arguments"])
        calls.append({"id": call["id"], "name": call["function"]["name"], "arguments": args})
        results.append({"id": call["id"]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})
        if call["function"]["name"] == "write_file":
            Path(args["path"]).write_text(args["content"])
        elif MODE != "silent":
            Path(sys.argv[1]).write_text(json.dumps({
                "outcome": "completed", "completion_reason": "tool_finish", "steps": step,
                "tool_calls": calls, "tool_results": results}))
            sys.exit(0)
        else:
            sys.exit(0)
sys.exit(1)
"""


def write_program_project(project: pytest.Pytester, *, env: dict[str, str] | None = None, **changes: str) -> None:
    """The scenario ``prog`` (its text changed by ``changes``, old -> new) and its program ``prog.py``."""
    text = SCENARIO.format(python=sys.executable)
    if env:
        variables = ", ".join(f"{name}: {value!r}" for name, value in env.items())
        text = text.replace("  timeout_s: 30\n", f"  timeout_s: 30\n  env: {{{variables}}}\n")
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    (project.path / "scenarios").mkdir(exist_ok=True)
    (project.path / "scenarios" / "prog.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (project.path / "prog.py").write_text(PROGRAM, encoding="utf-8")
