"""``kylecode inspect CASSETTE [--json]``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_dir import REALWORLD

from pytest_kylecode.cli import main

needs_realworld = pytest.mark.skipif(not REALWORLD.is_dir(), reason=f"real-world recordings not found at {REALWORLD}")
KEYS = {
    "index",
    "protocol",
    "status",
    "streaming",
    "text",
    "reasoning",
    "tool_calls",
    "finish_reason",
    "raw_finish_reason",
    "usage",
    "error",
}


def inspect_json(path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["interactions"]


@needs_realworld
def test_json_records_of_a_streamed_tool_call_cassette(capsys: pytest.CaptureFixture[str]) -> None:
    records = inspect_json(REALWORLD / "openai" / "pydantic-ai__test_run_stream_sync_streams_real_model.yaml", capsys)
    assert len(records) == 2 and all(set(r) == KEYS for r in records)
    first, second = records
    assert first["protocol"] == "openai_chat" and first["streaming"] is True and first["status"] == 200
    assert first["tool_calls"] == [
        {"id": "call_ZR5UUuTt3pf61kjwAJIYdVMj", "name": "get_capital", "arguments": {"country": "UK"}}
    ]
    assert (first["finish_reason"], first["raw_finish_reason"]) == ("tool_calls", "tool_calls")
    assert first["usage"] == {"input_tokens": 53, "output_tokens": 15} and first["error"] is None
    assert second["text"] == "The capital of the UK is London."


@needs_realworld
def test_gzip_binary_cassette_and_http_error(capsys: pytest.CaptureFixture[str]) -> None:
    [record] = inspect_json(REALWORLD / "anthropic" / "llm-anthropic__test_stream_events_tool_calls.yaml", capsys)
    assert record["protocol"] == "anthropic_messages"
    assert [c["name"] for c in record["tool_calls"]] == ["pelican_name_generator"]
    records = inspect_json(REALWORLD / "openrouter" / "pydantic-ai__test_openrouter_errors_raised.yaml", capsys)
    assert [r["error"]["category"] for r in records] == ["rate_limit"] * 3


@needs_realworld
def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    path = REALWORLD / "openrouter" / "pydantic-ai__test_openrouter_stream_error.yaml"
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: 1 interaction"
    assert out[1].split()[:4] == ["#0", "openai_chat", "200", "stream"]
    assert "finish=error (length)" in out[1] and "tokens in=43 out=10" in out[1]
    assert out[2].split()[0] == "reasoning"
    assert out[3].split(None, 2)[:2] == ["error", "stream_error:"]


@needs_realworld
def test_not_a_model_call_is_shown_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    path = REALWORLD / "openrouter" / "llm-openrouter__test_tool_calls.yaml"
    records = inspect_json(path, capsys)
    assert records[0]["protocol"] is None and records[0]["error"] is None
    assert [r["protocol"] for r in records[1:]] == ["openai_responses", "openai_responses"]
    main(["inspect", str(path)])
    assert "not a model call" in capsys.readouterr().out


def test_corrupt_cassette_is_one_line_naming_file_and_interaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "interactions:\n- request: {method: POST, uri: 'https://api.openai.com/v1/chat/completions'}\n"
        "  response: {status: {code: 200}, body: {string: ok}}\n"
        "- request: {method: POST}\n  response: {status: {code: 200}}\nversion: 1\n"
    )
    assert main(["inspect", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err == f"kylecode inspect: error: {path}: interaction 1 is corrupt (missing key 'uri')"


def test_invalid_yaml_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("interactions: [\n  {request: ")
    assert main(["inspect", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kylecode inspect: error: {bad}:") and "invalid YAML" in err and err.count("\n") == 1
    assert main(["inspect", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such cassette file" in capsys.readouterr().err


def test_our_own_cassette_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kylecode.cassettes.format import CassetteFile, Interaction, dumps

    events = [
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n',
        b"data: [DONE]\n\n",
    ]
    recorded = Interaction(
        method="POST",
        uri="https://api.openai.com/v1/chat/completions",
        request_headers={},
        request_json={"model": "m", "stream": True},
        status=200,
        reason="OK",
        response_headers={"content-type": "text/event-stream"},
        chunks=[(0.1 * i, e) for i, e in enumerate(events)],
    )
    path = tmp_path / "ours.yaml"
    path.write_text(dumps(CassetteFile({"scenario": "demo"}, [recorded])))
    [record] = inspect_json(path, capsys)
    assert (record["text"], record["finish_reason"], record["streaming"]) == ("hi", "stop", True)
    assert record["usage"] == {"input_tokens": 3, "output_tokens": 1}


@needs_realworld
def test_the_installed_command(tmp_path: Path) -> None:
    path = REALWORLD / "openai" / "pydantic-ai__test_run_stream_sync_streams_real_model.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["interactions"]) == 2


def test_the_table_keeps_the_whitespace_of_tool_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kylecode.cassettes.format import CassetteFile, Interaction, dumps

    command = "printf '%s  %s'  a b\n\tdone"
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "run_shell", "arguments": json.dumps({"command": command})},
    }
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}, "finish_reason": "tool_calls"}]
    }
    recorded = Interaction(
        method="POST",
        uri="https://api.openai.com/v1/chat/completions",
        request_headers={},
        request_json={"model": "m"},
        status=200,
        reason="OK",
        response_headers={"content-type": "application/json"},
        chunks=[(0.1, json.dumps(body).encode())],
    )
    path = tmp_path / "shell.yaml"
    path.write_text(dumps(CassetteFile({}, [recorded])), encoding="utf-8")
    assert main(["inspect", str(path)]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "tool call" in line]
    assert line.endswith(r'{"command": "printf ' + "'%s  %s'  a b" + r'\n\tdone"}')
