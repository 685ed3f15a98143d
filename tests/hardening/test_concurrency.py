"""Concurrency: many writers, one telemetry file; many runs, one runs directory; a matrix under ``-n 2``.

- 8 processes, released together, append to one ``KYLECODE_TELEMETRY_PATH``: large lines straight through
  ``telemetry.append_lines`` (well above PIPE_BUF, so a torn or interleaved write would show) and the spans of
  real agent runs through ``run_agent``. Every line is valid JSON, none is lost or duplicated. Once with whole
  writes, once with every ``write(2)`` short (4 KB): then only the writer's lock keeps a line together.
- 8 processes write run directories for the *same* scenario and cell into one root at the same moment: every
  run gets its own directory (none shared, none lost), complete and consistent with itself.
- a matrix session under ``-n 2`` with ``--kylecode-keep-runs``, ``--kylecode-report`` and a telemetry file:
  one report row and one run directory per cell, one span per call of every cell, every line valid JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROCESSES = 8
BIG_LINES = 12  # per process, ~200 KB each
RUNS = 3  # agent runs per process
WRITES = 15  # run directories per process

_WORKER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import httpx
    from agent_runtime.clock import VirtualClock
    from agent_runtime.config import parse_agent_config
    from agent_runtime.runner import run_agent
    from agent_runtime.observe.telemetry import append_lines
    from pytest_kylecode.emulator import EmulatorTransport, parse_script

    worker, mode, target, scratch = int(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    if mode == "telemetry-short":
        # write(2) may write less than asked (signals, quotas, some filesystems): make every write short,
        # so only the writer's lock keeps one line's pieces together.
        real_write = os.write
        def short_write(fd, data):
            written = real_write(fd, bytes(data[:4096]))
            os.sched_yield()
            return written
        os.write = short_write
    sys.stdin.readline()  # the start gate: every process is loaded before any of them writes
    if mode.startswith("telemetry"):
        pad = "x" * 200_000
        append_lines(target, [json.dumps({"worker": worker, "seq": i, "pad": pad}) for i in range(%(big)d)])
        script = parse_script([{"tool_calls": [{"name": "list_dir", "arguments": {}}]},
                               {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "ok"}}]}])
        for i in range(%(runs)d):
            clock = VirtualClock()
            ws = scratch / f"ws{worker}_{i}"
            ws.mkdir(parents=True)
            config = parse_agent_config({"route": "openai/gpt-4o-mini", "failover": []})
            with httpx.Client(transport=EmulatorTransport(script, clock=clock)) as http:
                result = run_agent(config, "go", ws, http=http, clock=clock, env={"KYLECODE_TELEMETRY_PATH": target})
            assert result.outcome == "completed", result.error_message
    else:
        from agent_runtime.observe.runlog import RunLog
        for i in range(%(writes)d):
            log = RunLog()
            log.set_info(worker=worker, seq=i)
            log.set_metrics({"schema": 1, "worker": worker, "seq": i})
            log.write(target, "same_scenario", "same-cell")
"""  # noqa: UP031 (percent format: the code is full of braces)
    % {"big": BIG_LINES, "runs": RUNS, "writes": WRITES}
)


def _race(mode: str, target: Path, scratch: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KYLECODE_TELEMETRY_PATH"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(n), mode, str(target), str(scratch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for n in range(PROCESSES)
    ]
    try:
        for proc in procs:  # release them all at once
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        failures = []
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            if proc.returncode:
                failures.append(err.decode()[-2000:])
        assert not failures, failures
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()  # ours
                proc.wait()


@pytest.mark.parametrize("writes", ["whole", "short"])
def test_many_processes_append_to_one_telemetry_file(tmp_path: Path, writes: str) -> None:
    target = tmp_path / "shared" / "telemetry.jsonl"
    _race("telemetry" if writes == "whole" else "telemetry-short", target, tmp_path / "scratch")
    raw = target.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]  # every line is one whole JSON document
    big = sorted((r["worker"], r["seq"]) for r in records if "worker" in r)
    assert big == [(w, i) for w in range(PROCESSES) for i in range(BIG_LINES)]  # none lost, none twice
    assert all(len(r["pad"]) == 200_000 for r in records if "worker" in r)
    spans = [r for r in records if "trace_id" in r]
    # Two calls per run (list, then finish), every run of every process.
    assert len(spans) == PROCESSES * RUNS * 2
    assert len({(s["trace_id"], s["span_id"]) for s in spans}) == len(spans)
    assert len({s["trace_id"] for s in spans}) == PROCESSES * RUNS


def test_concurrent_runs_of_the_same_cell_never_share_a_directory(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _race("runlog", root, tmp_path / "scratch")
    dirs = sorted(root.iterdir())
    assert len(dirs) == PROCESSES * WRITES  # none lost: every write made its own directory
    seen = set()
    for run_dir in dirs:
        run = json.loads((run_dir / "meta" / "run.json").read_text())
        metrics = json.loads((run_dir / "meta" / "provider_metrics.json").read_text())
        assert run["run_id"] == run_dir.name
        assert (metrics["worker"], metrics["seq"]) == (run["worker"], run["seq"])  # one run's files only
        seen.add((run["worker"], run["seq"]))
        for name in ("capability_probes.json", "telemetry.jsonl"):
            assert (run_dir / "meta" / name).is_file()
        assert (run_dir / "conversation" / "conversation.md").is_file()
    assert len(seen) == PROCESSES * WRITES


SCENARIO = """
name: {name}
task: List the workspace, write notes.txt, then finish.
workspace: {{README.md: "# demo\\n"}}
agent: {{max_steps: 6, failover: [openai/gpt-4.1-mini]}}
script:
  - tool_calls: [{{name: list_dir, arguments: {{path: "."}}}}]
  - tool_calls: [{{name: write_file, arguments: {{path: notes.txt, content: "one\\n"}}}}]
  - tool_calls: [{{name: mark_task_complete, arguments: {{summary: done}}}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]
  streaming: [true, false]
  tools: [native, text]
  fault: [none, http_429, html_200]
expect: {{outcome: completed}}
snapshot: false
"""


def test_matrix_under_xdist_writes_every_row_run_directory_and_span(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "CI"):
        monkeypatch.delenv(name, raising=False)
    telemetry = pytester.path / "telemetry.jsonl"
    monkeypatch.setenv("KYLECODE_TELEMETRY_PATH", str(telemetry))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    (pytester.path / "scenarios").mkdir()
    for name in ("alpha", "beta"):
        (pytester.path / "scenarios" / f"{name}.yaml").write_text(SCENARIO.format(name=name).lstrip())
    cells = 2 * 3 * 2 * 2 * 3
    record = pytester.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all", "-n", "2")
    record.assert_outcomes(passed=cells)
    telemetry.unlink()  # count the replay only
    result = pytester.runpytest_subprocess(
        "--kylecode-matrix", "-n", "2", "--kylecode-keep-runs", "--kylecode-report", "report"
    )
    result.assert_outcomes(passed=cells)
    report = json.loads((pytester.path / "report" / "report.json").read_text())
    rows = report["rows"] if isinstance(report, dict) and "rows" in report else report
    text = json.dumps(report)
    assert (pytester.path / "report" / "report.md").is_file()
    run_dirs = sorted((pytester.path / ".kylecode" / "runs").iterdir())
    assert len(run_dirs) == cells  # one directory per cell: none shared, none lost
    calls = 0
    names = set()
    for run_dir in run_dirs:
        run = json.loads((run_dir / "meta" / "run.json").read_text())
        names.add((run["scenario"], run["cell"]))
        metrics = json.loads((run_dir / "meta" / "provider_metrics.json").read_text())
        calls += metrics["summary"]["calls"]
        assert len(list((run_dir / "meta" / "requests").iterdir())) == metrics["summary"]["calls"]
        assert run["cell"] in text  # every cell has its row in the report
    assert len(names) == cells
    lines = telemetry.read_text().splitlines()
    spans = [json.loads(line) for line in lines]
    assert len(spans) == calls and len({(s["trace_id"], s["span_id"]) for s in spans}) == calls
    assert rows
