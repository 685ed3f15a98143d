import base64
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent_runtime.clock import VirtualClock
from agent_runtime.observe.metrics import Attempt
from agent_runtime.observe.runlog import RunLog, raw_excerpt, safe_name

from ..fakes import CANARY, ENV_CANARY, canary_runlog, make_record


def all_bytes(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                yield path, fh.read()


def test_run_dir_layout(tmp_path):
    run_dir = canary_runlog().write(
        tmp_path, "enumerate_workspace", "openrouter/z-ai/glm-4.6-stream-native-none", env={}
    )
    assert run_dir.parent == tmp_path
    rel = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    assert rel == sorted(
        [
            "meta/run.json",
            "meta/capability_probes.json",
            "meta/provider_metrics.json",
            "meta/telemetry.jsonl",
            "meta/requests/turn_1_1.json",
            "meta/requests/turn_1_2.json",
            "raw/responses/turn_1_1.txt",
            "raw/responses/turn_1_2.txt",
            "errors/turn_1_1.json",
            "conversation/conversation.md",
        ]
    )
    run = json.loads((run_dir / "meta/run.json").read_text())
    assert run["scenario"] == "enumerate_workspace" and run["outcome"] == "completed" and run["attempts"] == 2
    assert run["run_id"] == run_dir.name
    error = json.loads((run_dir / "errors/turn_1_1.json").read_text())
    assert error["category"] == "html_response" and error["route"] == "anthropic/claude"
    request = json.loads((run_dir / "meta/requests/turn_1_2.json").read_text())
    assert request["route"] == "openai/gpt-4o" and request["body"]["model"] == "claude"
    assert request["headers"]["content-type"] == "application/json"
    spans = [json.loads(line) for line in (run_dir / "meta/telemetry.jsonl").read_text().splitlines()]
    assert [s["attributes"]["kylecode.attempt"] for s in spans] == [1, 2]
    assert json.loads((run_dir / "meta/provider_metrics.json").read_text())["summary"]["calls"] == 1


def test_run_dir_name_sanitized(tmp_path):
    run_dir = canary_runlog().write(
        tmp_path, "my/scenario", "openrouter/z-ai/glm-4.6-stream-native-http_503-times=5", env={}
    )
    assert "/" not in run_dir.name and run_dir.parent == tmp_path
    stamp, rest = run_dir.name.split("_", 1)
    assert stamp.endswith("Z") and "T" in stamp
    assert rest.startswith("my_scenario_openrouter_z-ai_glm-4.6-stream-native-http_503-times=5_")
    assert safe_name("../../etc") == "etc" and safe_name("") == "run"


def test_transcript_has_marks_and_messages(tmp_path):
    run_dir = canary_runlog().write(tmp_path, "s", "c", env={})
    md = (run_dir / "conversation/conversation.md").read_text()
    assert "## Turn 1" in md
    assert "[fallback] anthropic/claude -> openai/gpt-4o (html_response)" in md
    assert "error html_response (HTTP 200)" in md
    assert "[fallback] call 2 -> openai/gpt-4o" in md
    assert "tool call `mark_task_complete` (c1)" in md
    assert md.index("call 1") < md.index("### Assistant")


def test_html_and_binary_raw_excerpts_are_base64_of_redacted_text():
    html = raw_excerpt(502, {"Content-Type": "text/html"}, f"<html>{CANARY}</html>".encode(), env={})
    header, body = html.split("\n\n", 1)
    assert "encoding: base64" in header and "status: 502" in header
    assert base64.b64decode(body).decode() == "<html>[REDACTED]</html>"
    binary = raw_excerpt(200, {}, b"\x00\xff" + CANARY.encode(), env={})
    assert "encoding: base64" in binary
    assert CANARY.encode() not in base64.b64decode(binary.split("\n\n", 1)[1])
    text = raw_excerpt(200, {"content-type": "text/event-stream"}, b"data: {}\n\n", env={})
    assert "encoding: text" in text and text.endswith("data: {}\n\n\n")


def test_canary_key_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_CANARY)
    run_dir = canary_runlog().write(tmp_path, "s", "c")
    seen = 0
    for path, data in all_bytes(run_dir):
        seen += 1
        assert CANARY.encode() not in data, path
        assert b"CANARY" not in data, path
        assert ENV_CANARY.encode() not in data, path
    assert seen == 10


def test_recording_does_no_io_and_no_copies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = RunLog()
    record = make_record("a/b", clock=VirtualClock())
    log.record_attempt(Attempt(record, 1, 1))
    log.note(1, "x", "retry")
    assert log.attempts[0].record is record  # kept by reference
    assert list(tmp_path.iterdir()) == []


def test_run_dirs_never_collide(tmp_path):
    # A predecessor's run folders could collide. Same scenario, same cell, same
    # millisecond, in threads and in separate processes: every run gets its own directory.
    log = canary_runlog()
    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: log.write(tmp_path, "same", "cell", env={}), range(24)))
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from unit.agent_runtime.fakes import canary_runlog;"
        "[print(canary_runlog().write(sys.argv[1], 'same', 'cell', env={})) for _ in range(10)]"
    )
    tests = str(Path(__file__).resolve().parents[3])  # where the `unit` package is
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), tests], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        dirs += out.split()
    names = [os.path.basename(str(d)) for d in dirs]
    assert len(names) == 64 == len(set(names))
    assert len(list(tmp_path.iterdir())) == 64
    assert all((tmp_path / n / "meta" / "run.json").is_file() for n in names)
