"""``kylecode emulate --fault``: the emulator as a chaos upstream for agents in any language.

The server runs as a real subprocess, exactly as docs/byo-agent.md shows; clients are curl-like
httpx calls and the official openai SDK. Faults count every call to the server, from 1.
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

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "openai_sdk_agent.yaml"
MESSAGES = [{"role": "user", "content": "go"}]
TOOLS: Any = [{"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}]
TIMEOUT = 10.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("kylecode")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_kylecode.cli"]


@contextmanager
def emulate(tmp_path: Path, *fault: str) -> Iterator[str]:
    """``kylecode emulate --scenario ... --port 0 FAULT...``; yields its base URL; stops it with SIGTERM."""
    with (tmp_path / "emulate.log").open("w") as log:
        proc = subprocess.Popen(
            [*_command(), "emulate", "--scenario", str(SCENARIO), "--port", "0", *fault],
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
        yield line.removeprefix("listening on ").strip()
    finally:
        proc.send_signal(signal.SIGTERM)
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
