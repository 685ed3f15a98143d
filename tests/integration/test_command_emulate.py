"""``kylecode emulate``: the provider emulator as a loopback server, and as a chaos upstream.

The server runs as a real subprocess, exactly as docs/byo-agent.md shows; clients are curl-like
httpx calls and the official SDKs. Faults count every call to the server, from 1.
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "openai_sdk_agent.yaml"
MESSAGES = [{"role": "user", "content": "go"}]
TOOLS: Any = [{"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}]
TIMEOUT = 10.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("kylecode")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_kylecode.cli"]


@contextmanager
def emulate(tmp_path: Path, *options: str, scenario: Path = EXAMPLE, stop: int = signal.SIGTERM) -> Iterator[str]:
    """``kylecode emulate --scenario SCENARIO --port 0 OPTIONS...``; yields its base URL once it listens,
    then stops it with ``stop`` and checks that it exited cleanly. Its stderr is ``emulate.log``."""
    with (tmp_path / "emulate.log").open("w") as log:  # the child keeps its own copy of the handle
        proc = subprocess.Popen(
            [*_command(), "emulate", "--scenario", str(scenario), "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert proc.stdout is not None
    try:
        line = ""
        with selectors.DefaultSelector() as selector:  # wait for the "listening on" line, no sleeping
            selector.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 20
            while not line and proc.poll() is None and time.monotonic() < deadline:
                if selector.select(timeout=deadline - time.monotonic()):
                    line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), (line, (tmp_path / "emulate.log").read_text())
        url = line.removeprefix("listening on ").strip()
        assert line == f"listening on {url}\n"
        yield url
    finally:
        proc.send_signal(stop)
        try:
            assert proc.wait(timeout=TIMEOUT) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def test_curl_like_calls_get_the_503_then_the_script(tmp_path: Path) -> None:
    with emulate(tmp_path, "--fault", "http_503", "--fault-times", "1") as url, httpx.Client(timeout=TIMEOUT) as http:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "tools": TOOLS}
        first = http.post(f"{url}/v1/chat/completions", json=body)
        assert first.status_code == 503 and first.headers["content-type"].startswith("application/json")
        assert first.json()["error"]["type"] == "server_error" and first.headers["x-request-id"]
        second = http.post(f"{url}/v1/chat/completions", json=body)
        assert second.status_code == 200
        call = second.json()["choices"][0]["message"]["tool_calls"][0]
        assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == ("list_dir", {"path": "."})
        # streaming, as `curl -N` would: SSE events ending with [DONE]
        with http.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [line for line in stream.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]" and any('"tool_calls"' in e for e in events)


def test_a_streaming_call_gets_the_503_as_json_first(tmp_path: Path) -> None:
    with emulate(tmp_path, "--fault", "http_503") as url, httpx.Client(timeout=TIMEOUT) as http:
        body = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": MESSAGES, "stream": True}
        first = http.post(f"{url}/v1/messages", json=body)
        assert first.status_code == 503
        assert first.json()["type"] == "error" and first.json()["error"]["type"] == "api_error"  # Anthropic's shape
        with http.stream("POST", f"{url}/v1/messages", json=body) as stream:
            events = [line.removeprefix("event: ") for line in stream.iter_lines() if line.startswith("event: ")]
        assert events[0] == "message_start" and events[-1] == "message_stop"


def test_the_openai_sdk_sees_the_503_then_succeeds(tmp_path: Path) -> None:
    with (
        emulate(tmp_path, "--fault", "http_503", "--fault-times", "1") as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client,
    ):
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)
        assert info.value.status_code == 503
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS, stream=True)
        with stream:
            names = [
                c.function.name
                for chunk in stream
                for choice in chunk.choices
                for c in choice.delta.tool_calls or []
                if c.function and c.function.name
            ]
        assert names == ["list_dir"]


def test_fault_at_skips_the_first_calls(tmp_path: Path) -> None:
    with emulate(tmp_path, "--fault", "http_429", "--fault-at", "2") as url, httpx.Client(timeout=TIMEOUT) as http:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES}
        statuses = [http.post(f"{url}/v1/chat/completions", json=body) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 429, 200]
        assert statuses[1].headers["retry-after"] == "1"


# -- the command itself ------------------------------------------------------------------------------

# A scenario of one turn with two tool calls (arguments of every JSON type), written as a user would.
SCENARIO = """\
name: demo
task: go
script:
  - text: Looking around.
    tool_calls:
      - {name: list_dir, arguments: {path: "."}}
      - {name: read_file, arguments: {path: src/fs.c, limit: 20, flags: [true, null]}}
matrix: {provider: [openai/gpt-4o-mini]}
"""
CALLS = [("list_dir", {"path": "."}), ("read_file", {"path": "src/fs.c", "limit": 20, "flags": [True, None]})]
NAMES = ("list_dir", "read_file")
CHAT_TOOLS: Any = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in NAMES]
FLAT_TOOLS: Any = [{"type": "function", "name": n, "parameters": {"type": "object"}, "strict": False} for n in NAMES]


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_kylecode_emulate_with_a_fault(tmp_path: Path) -> None:
    options = ("--fault", "http_503", "--fault-times", "2")
    with (
        emulate(tmp_path, *options, scenario=_scenario(tmp_path)) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client,
    ):
        for _ in range(2):  # calls 1 and 2 are faulted
            with pytest.raises(openai.InternalServerError):
                client.responses.create(model="gpt-4.1", input="go", tools=FLAT_TOOLS)
        response = client.responses.create(model="gpt-4.1", input="go", tools=FLAT_TOOLS)
    assert [(o.name, json.loads(o.arguments)) for o in response.output if o.type == "function_call"] == CALLS


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_kylecode_emulate_command(tmp_path: Path, sig: int) -> None:
    with (
        emulate(tmp_path, scenario=_scenario(tmp_path), stop=sig) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client,
    ):
        assert int(url.rsplit(":", 1)[1]) > 0
        with client.chat.completions.stream(model="gpt-4o-mini", tools=CHAT_TOOLS, messages=MESSAGES) as stream:
            message = stream.get_final_completion().choices[0].message
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == CALLS
    assert "POST /v1/chat/completions" in (tmp_path / "emulate.log").read_text()


@pytest.mark.parametrize(
    ("scenario", "extra", "message"),
    [
        (
            "task: go\nscript:\n  - {tool_calls: [{name: list_dir, argument: {}}]}\n",
            (),
            "script[0].tool_calls[0].argument: unknown key 'argument' (did you mean 'arguments'?)",
        ),
        ("task: go\n", (), "a mapping with a `script` list"),
        ("script: [{text: hi}]\n", ("--fault-at", "2"), "--fault-at and --fault-times need --fault KIND"),
        ("script: [{text: hi}]\n", ("--fault", "http_429", "--fault-times", "0"), "--fault-times must be a positive"),
    ],
    ids=["unknown-key", "no-script", "fault-at-alone", "fault-times-zero"],
)
def test_kylecode_emulate_refuses_bad_input(
    tmp_path: Path, scenario: str, extra: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(scenario, encoding="utf-8")
    result = subprocess.run(
        [*_command(), "emulate", "--scenario", str(path), "--port", "0", *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    if "script" in scenario and not extra:
        assert str(path) in result.stderr


def test_unknown_fault_kind_is_an_argparse_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*_command(), "emulate", "--scenario", "x.yaml", "--fault", "http_999"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "invalid choice: 'http_999'" in result.stderr


def test_an_alias_bomb_is_refused_as_scenarios_validate_refuses_it(tmp_path: Path) -> None:
    # Nine levels of nine aliases: 9**9 values once expanded; the checked loader stops it at once.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nscript: *a9\n", encoding="utf-8")
    result = subprocess.run(
        [*_command(), "emulate", "--scenario", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}:" in result.stderr and "alias bomb" in result.stderr, result.stderr
    validate = subprocess.run(
        [*_command(), "scenarios", "validate", str(path)], capture_output=True, text=True, timeout=30
    )
    assert "alias bomb" in validate.stdout + validate.stderr
