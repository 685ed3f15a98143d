import json
import os
import subprocess
import sys

import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.observe.metrics import Attempt
from agent_runtime.observe.redact import MASK
from agent_runtime.observe.telemetry import ENV_PATH, append_lines, encode_span, export, read_spans, span_from_attempt

from ..fakes import make_record

TRACE = "0" * 32


def span(outcome="ok", route="anthropic/claude-sonnet-4-5", **kw):
    record = make_record(route, clock=VirtualClock(10.0), outcome=outcome, stream=True)
    return span_from_attempt(Attempt(record, 3, 2, **kw), trace_id=TRACE, epoch=1_700_000_000.0)


def test_span_uses_genai_attribute_names():
    s = span(retry=True, fallback=False)
    a = s["attributes"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert a["gen_ai.usage.input_tokens"] == 10 and a["gen_ai.usage.output_tokens"] == 5
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["server.address"] == "api.example.test"
    assert (a["kylecode.route"], a["kylecode.turn"], a["kylecode.attempt"]) == ("anthropic/claude-sonnet-4-5", 3, 2)
    assert a["kylecode.retry"] is True and a["kylecode.fallback"] is False and a["kylecode.stream"] is True
    assert s["name"] == "chat claude-sonnet-4-5" and s["kind"] == "CLIENT" and s["status"] == {"code": "UNSET"}
    assert s["end_time_unix_nano"] - s["start_time_unix_nano"] == 50_000_000
    assert s["start_time_unix_nano"] == 1_700_000_010 * 10**9


def test_error_span_has_error_type_and_model_with_slash():
    s = span("rate_limit", route="openrouter/z-ai/glm-4.6")
    a = s["attributes"]
    assert a["error.type"] == "rate_limit" and a["http.response.status_code"] == 429
    assert a["gen_ai.provider.name"] == "openrouter" and a["gen_ai.request.model"] == "z-ai/glm-4.6"
    assert a["kylecode.route"] == "openrouter/z-ai/glm-4.6"
    assert s["status"]["code"] == "ERROR"
    assert "gen_ai.usage.input_tokens" not in a


def test_encoded_line_is_redacted_single_line_json():
    s = span()
    s["status"] = {"code": "ERROR", "message": "Incorrect API key provided: sk-ant-CANARY0123456789"}
    line = encode_span(s, {})
    assert line.endswith("\n") and line.count("\n") == 1
    assert "CANARY" not in line and MASK in line
    assert json.loads(line)["attributes"]["kylecode.turn"] == 3


def test_export_appends_only_when_env_set(tmp_path):
    target = tmp_path / "t" / "telemetry.jsonl"
    assert export(["{}\n"], env={}) is None
    assert export(['{"a":1}\n', '{"a":2}'], env={ENV_PATH: str(target)}) == target
    export(['{"a":3}\n'], env={ENV_PATH: str(target)})
    assert [s["a"] for s in read_spans(target)] == [1, 2, 3]


def test_read_spans_names_a_bad_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"t.jsonl:2"):
        read_spans(path)


WRITER = """
import json, sys
from agent_runtime.observe.telemetry import append_lines
path, who, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
pad = "x" * 70000  # far above PIPE_BUF: unlocked appends of this size would interleave
for b in range(batches):
    append_lines(path, [json.dumps({"who": who, "batch": b, "i": i, "pad": pad}) for i in range(5)])
"""


def test_many_processes_append_without_interleaving_or_loss(tmp_path):
    path = tmp_path / "shared.jsonl"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "20"], env=os.environ.copy())
        for w in range(6)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]  # every line is whole JSON
    assert len(records) == 6 * 20 * 5
    assert {(r["who"], r["batch"], r["i"]) for r in records} == {
        (str(w), b, i) for w in range(6) for b in range(20) for i in range(5)
    }
    # A batch is written under one lock: its five lines stay together.
    for k in range(0, len(records), 5):
        assert len({(r["who"], r["batch"]) for r in records[k : k + 5]}) == 1


def test_append_lines_adds_missing_newline(tmp_path):
    path = tmp_path / "x.jsonl"
    assert append_lines(path, ["a", "b\n"]) == 2
    assert path.read_text() == "a\nb\n"
    assert append_lines(path, []) == 0
