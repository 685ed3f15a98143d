#!/usr/bin/env python
"""Benchmark: what one matrix cell costs, against the floor of a bare pytest test and the peers.

    python benchmarks/run.py                 # full run (a few minutes), JSON on stdout
    python benchmarks/run.py --cells 200 --collect-cells 2000 --rss-cells 1000 --repeat 1   # quicker

Everything happens in a temporary directory, every measured run is a real pytest session in a
subprocess (so pytest's own per-test cost is included), and nothing here imports the plugin:

1. Workload. One scenario template (a three-turn agent run: list_dir, read_file,
   mark_task_complete) over 5 providers (all three wire protocols) x streaming x tool mode x up
   to 5 faults (none, http_429, http_503, html_200, malformed_tool_args) = 100 cells. Its cassettes
   and metrics snapshots are recorded once with the emulator (``--kylecode-record=all
   --snapshot-update``, not timed); copies of the scenario under other names (same content,
   so the same scenario hash) reuse them through hard links, up to the sizes asked for.
2. Floor. A bare parametrized pytest test, one test per cell, that sends the very requests of
   that cell's cassette (as many calls as the cell makes, faulted ones included) through
   ``httpx.MockTransport`` and reads the recorded responses.
3. Matrix. ``CI=true pytest --kylecode-matrix`` on the same number of cells, replayed from the
   cassettes with their faults and snapshot comparison; in one process and with ``-n WORKERS``.
   ``matrix`` replays with pytest's cache provider on, as a second run finds it (parsed
   cassettes kept); ``matrix_cold`` clears the cache first, as a fresh CI machine's first run.
   Peers of the floor: ``respx`` answers the floor's hand-written loop from a respx router.
4. The SDK workload: one agent loop on the official openai SDK (Chat Completions with tools,
   streamed and not). ``byo_sdk`` runs it as a byo cell (``ctx.openai_client()``, a scenario
   factory, replayed from cassettes the emulator recorded); the cassette peers run the very same
   loop on a plain ``openai.OpenAI``, each in its own session: ``vcrpy_sdk`` (vcrpy through
   pytest-recording) and ``cassetter_sdk``, replaying cassettes they recorded themselves from
   the emulator served on loopback (``kylecode emulate``). A peer that is not installed (the
   ``bench`` extra) is listed under ``peers_skipped``.
5. Per cell: each configuration is also run with no test at all; per-cell cost is
   ``(T(N) - T(0)) / N`` (session start-up removed), wall and CPU (user+sys of the process tree),
   medians over ``--repeat`` runs. ``ratios`` holds every per-test cost over the floor's, and the
   byo cell's over each peer's; all of them are printed too.
6. Collection of ``--collect-cells`` cells (``--collect-only``): collection proper (session
   start to collection finished), command start to collection finished, and the whole command
   (whose end includes syrupy's unused-snapshot report over every snapshot file).
7. Peak memory: max RSS of an in-process replay of ``--rss-cells`` cells; when that is less
   than 10,000, the 10,000-cell figure is extrapolated linearly from two sizes (and says so).

``--repo DIR`` measures another checkout of the project (its directory goes first on
PYTHONPATH of every subprocess); default: the checkout this file belongs to.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROVIDERS = [
    "openai/gpt-4o-mini",
    "anthropic/claude-sonnet-4-5",
    "openai-responses/gpt-4.1",
    "openrouter/z-ai/glm-4.6",
    "moonshot-anthropic/kimi-k2",
]
FAULTS = ["none", "http_429", "http_503", "html_200", "malformed_tool_args"]
CELLS_PER_FAULT = len(PROVIDERS) * 2 * 2  # providers x streaming x tools

SCENARIO = """\
name: {name}
description: Benchmark workload, a three-turn agent run.
task: List the workspace, read README.md, then call mark_task_complete with a one-line summary.
workspace:
  README.md: "# bench\\nA small project.\\n"
  src/main.c: "int main(void){{return 0;}}\\n"
agent:
  max_steps: 8
  failover: []
script:
  - tool_calls: [{{name: list_dir, arguments: {{path: "."}}}}]
  - text: Reading the README.
    tool_calls: [{{name: read_file, arguments: {{path: README.md}}}}]
  - text: Done.
    tool_calls: [{{name: mark_task_complete, arguments: {{summary: "README.md read"}}}}]
matrix:
  provider: [{providers}]
  streaming: [true, false]
  tools: [native, text]
  fault: [{faults}]
expect:
  outcome: completed
  completion_reason: tool_finish
  tool_calls_paired: true
{overrides}"""
# Only with html_200 in the matrix: an override that selects no cell is refused by validation.
HTML_200_OVERRIDE = """\
overrides:
  - when: {fault: html_200}
    expect: {outcome: failed, completion_reason: null, error_category: html_response}
"""

FLOOR_TEST = '''\
"""The floor: one bare test per cell, sending that cell's recorded requests through httpx.MockTransport."""
import json
import os
from pathlib import Path

import httpx
import pytest

_DATA = json.loads(Path(__file__).with_name("floor_calls.json").read_text(encoding="utf-8"))
CELLS = [[(c["uri"], c["request_headers"], c["request_body"].encode(), c["status"], c["response_headers"],
           c["response_body"].encode()) for c in calls] for calls in _DATA]
COUNT = int(os.environ.get("FLOOR_TESTS", "0"))


@pytest.mark.parametrize("index", range(COUNT))
def test_cell(index):
    calls = CELLS[index % len(CELLS)]
    answers = iter(calls)

    def handler(request):
        _, _, _, status, headers, body = next(answers)
        return httpx.Response(status, headers=headers, content=body)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        for uri, headers, body, status, _, expected in calls:
            response = client.post(uri, headers=headers, content=body)
            assert response.status_code == status
            assert response.read() == expected
'''


# The respx peer: the floor's hand-written loop, answered by a respx router instead of MockTransport.
RESPX_TEST = FLOOR_TEST.replace("import httpx\n", "import httpx\nimport respx\n").replace(
    """    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        for uri, headers, body, status, _, expected in calls:""",
    """    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        router.route().mock(side_effect=handler)
        for uri, headers, body, status, _, expected in calls:""",
)

# The SDK workload: one agent loop on the official openai SDK (Chat Completions with tools,
# streamed or not), run by the byo kylecode cell (``ctx.openai_client()``) and, unchanged, by the
# cassette peers (vcrpy through pytest-recording, cassetter) on a plain ``openai.OpenAI``.
SDK_LOOP = """\
import json

import openai

FILES = {"README.md": "# bench\\nA small project.\\n", "src/main.c": "int main(void){return 0;}\\n"}
TASK = "List the workspace, read README.md, then call mark_task_complete with a one-line summary."
TOOLS = [
    {"type": "function", "function": {"name": name, "description": text, "parameters": {
        "type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}}}
    for name, text, arg in [
        ("list_dir", "List a workspace directory.", "path"),
        ("read_file", "Read a text file of the workspace.", "path"),
        ("mark_task_complete", "Call when the task is done.", "summary"),
    ]
]


def _tool(name, arguments):
    if name == "list_dir":
        return "\\n".join(sorted({path.split("/")[0] + ("/" if "/" in path else "") for path in FILES}))
    if name == "read_file":
        return FILES.get(arguments.get("path", ""), "error: no such file")
    return "done"


def _turn(client, model, messages, stream):
    if not stream:
        message = client.chat.completions.create(model=model, messages=messages, tools=TOOLS).choices[0].message
        return message.content or "", [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls or []
        ]
    text, calls = [], {}
    with client.chat.completions.create(
        model=model, messages=messages, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    ) as chunks:
        for chunk in chunks:
            for choice in chunk.choices:
                text.append(choice.delta.content or "")
                for part in choice.delta.tool_calls or []:
                    call = calls.setdefault(part.index, {"id": "", "type": "function",
                                                         "function": {"name": "", "arguments": ""}})
                    call["id"] = call["id"] or part.id or ""
                    if part.function is not None:
                        call["function"]["name"] = call["function"]["name"] or part.function.name or ""
                        call["function"]["arguments"] += part.function.arguments or ""
    return "".join(text), [calls[i] for i in sorted(calls)]


def run_loop(client, model, stream, max_steps=8):
    \"\"\"(tool calls made, finished): ask, run the tools called, send the results back.\"\"\"
    messages = [{"role": "system", "content": "Use the tools."}, {"role": "user", "content": TASK}]
    made = []
    for _ in range(max_steps):
        text, calls = _turn(client, model, messages, stream)
        messages.append({"role": "assistant", "content": text or None, **({"tool_calls": calls} if calls else {})})
        for call in calls:
            name, arguments = call["function"]["name"], json.loads(call["function"]["arguments"] or "{}")
            made.append({"id": call["id"], "name": name, "arguments": arguments})
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": _tool(name, arguments)})
            if name == "mark_task_complete":
                return made, True
    return made, False


def kylecode_run(ctx):
    from pytest_kylecode.byo import AgentReport

    made, finished = run_loop(ctx.openai_client(), ctx.model, ctx.streaming)
    results = [{"id": call["id"], "error": False} for call in made]
    if finished:
        return AgentReport(outcome="completed", completion_reason="tool_finish", tool_calls=made, tool_results=results)
    return AgentReport(outcome="max_steps", tool_calls=made, tool_results=results)
"""

SDK_SCENARIO = """\
name: {name}
description: Benchmark workload, the openai SDK loop as a byo cell.
task: List the workspace, read README.md, then call mark_task_complete with a one-line summary.
workspace:
  README.md: "# bench\\nA small project.\\n"
  src/main.c: "int main(void){{return 0;}}\\n"
agent:
  factory: "sdk_loop:kylecode_run"
  max_steps: 8
  failover: []
script:
  - tool_calls: [{{name: list_dir, arguments: {{path: "."}}}}]
  - text: Reading the README.
    tool_calls: [{{name: read_file, arguments: {{path: README.md}}}}]
  - text: Done.
    tool_calls: [{{name: mark_task_complete, arguments: {{summary: "README.md read"}}}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [true, false]
  tools: [native]
  fault: [none]
expect:
  outcome: completed
  completion_reason: tool_finish
"""
SDK_CELLS_PER_SCENARIO = 2
SDK_FIRST = "sdk_0000.yaml"

# One SDK loop per test against a plain openai client; the cassette plugin (``-p`` picks one per
# session) answers from the two cassettes recorded once from the emulator, streamed and not.
PEER_TEST = """\
import os

import openai
import pytest

from sdk_loop import run_loop

COUNT = int(os.environ.get("PEER_TESTS", "0"))
SUFFIX = os.environ.get("PEER_CASSETTE_SUFFIX", "")


@pytest.mark.vcr
@pytest.mark.parametrize(
    "index",
    [pytest.param(i, marks=pytest.mark.default_cassette(("stream" if i % 2 == 0 else "nostream") + SUFFIX))
     for i in range(COUNT)],
)
def test_sdk_loop(index):
    client = openai.OpenAI(base_url=os.environ["PEER_BASE_URL"], api_key="sk-bench-not-a-key", max_retries=0)
    made, finished = run_loop(client, "gpt-4o-mini", index % 2 == 0)
    assert finished and [call["name"] for call in made] == ["list_dir", "read_file", "mark_task_complete"]
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, repo: Path, work: Path, *, bytecode_cache: bool) -> None:
        self.repo = repo
        self.work = work
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_XDIST_AUTO_NUM_WORKERS", None)
        if bytecode_cache:
            # The steady state of a workstation or CI runner: compiled modules (and pytest's
            # rewritten ones) come from a bytecode cache, warmed by the untimed recording runs.
            # A private prefix: nothing is written into the checkout or the environment.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        self.env = env

    def pytest(
        self,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
        cache: bool = False,
    ) -> dict[str, Any]:
        """One pytest session in a subprocess: wall, CPU of the process tree, max RSS, output.
        ``cache``: with pytest's cache provider (the matrix keeps parsed cassettes there)."""
        # The peers' plugins are kept out unless a peer session names its own again (``-p recording``).
        command = [
            sys.executable,
            "-m",
            "pytest",
            *([] if cache else ["-p", "no:cacheprovider"]),
            *NO_PEER_PLUGINS,
            *args,
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=cwd, env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out = b""
        stdout = proc.stdout
        assert stdout is not None
        for chunk in iter(lambda: stdout.read(65536), b""):
            out += chunk
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = out.decode("utf-8", errors="replace")
        if proc.returncode not in ok:
            tail = "\n".join(text.splitlines()[-40:])
            raise SystemExit(f"benchmark: {' '.join(command)} exited {proc.returncode} in {cwd}:\n{tail}")
        # ru_maxrss is in KiB on Linux (bytes on macOS); it covers the child and its reaped children.
        rss_kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
        return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": rss_kib / 1024, "output": text}


def faults_for(cells: int) -> list[str]:
    return FAULTS[: max(1, min(len(FAULTS), -(-cells // CELLS_PER_FAULT)))]


def write_ini(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # Own rootdir and ini: the project's addopts and filterwarnings stay out of the measurement.
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


def scenario_text(name: str, faults: list[str]) -> str:
    overrides = HTML_200_OVERRIDE if "html_200" in faults else ""
    return SCENARIO.format(name=name, providers=", ".join(PROVIDERS), faults=", ".join(faults), overrides=overrides)


def build_matrix(runner: Runner, copies: int, faults: list[str]) -> tuple[Path, list[Path]]:
    """Record the template scenario, then ``copies`` scenario files sharing its cassettes and snapshots."""
    root = runner.work / "matrix"
    write_ini(root)
    scenarios, cassettes = root / "scenarios", root / "cassettes"
    scenarios.mkdir()
    template = "bench_0000"
    (scenarios / f"{template}.yaml").write_text(scenario_text(template, faults), encoding="utf-8")
    log(f"recording the template scenario ({CELLS_PER_FAULT * len(faults)} cells) with the emulator")
    env = {k: v for k, v in runner.env.items() if k != "CI"}
    runner.env, saved = env, runner.env
    try:
        runner.pytest(
            [
                "--kylecode-matrix",
                f"--kylecode-scenarios={scenarios}",
                f"--kylecode-cassettes={cassettes}",
                "--kylecode-record=all",
                "--snapshot-update",
                "-q",
            ],
            cwd=root,
        )
    finally:
        runner.env = saved
    check = runner.pytest(
        ["--kylecode-matrix", f"--kylecode-scenarios={scenarios}", f"--kylecode-cassettes={cassettes}", "-q"],
        cwd=root,
        env={"CI": "true"},
    )
    if "failed" in check["output"].splitlines()[-1]:
        raise SystemExit("benchmark: the recorded template does not replay cleanly:\n" + check["output"][-4000:])
    files = [scenarios / f"{template}.yaml"]
    log(f"linking {copies - 1} copies of it")
    for n in range(1, copies):
        name = f"bench_{n:04d}"
        (scenarios / f"{name}.yaml").write_text(scenario_text(name, faults), encoding="utf-8")
        _link_tree(cassettes / template, cassettes / name)
        _link_tree(scenarios / "__snapshots__" / template, scenarios / "__snapshots__" / name)
        files.append(scenarios / f"{name}.yaml")
    return root, files


def _link_tree(src: Path, dst: Path) -> None:
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


def build_floor(runner: Runner, matrix: Path, template_files: Path) -> Path:
    """The floor test and, per template cell, the calls it makes (from the cell's cassette and snapshot)."""
    import yaml  # a dependency of the project, not of the plugin import

    floor = runner.work / "floor"
    write_ini(floor)
    cassettes = matrix / "cassettes" / "bench_0000"
    snapshots = matrix / "scenarios" / "__snapshots__" / "bench_0000"
    cells: list[list[dict[str, Any]]] = []
    for snapshot in sorted(snapshots.rglob("*.json")):
        rel = snapshot.relative_to(snapshots).with_suffix("")
        calls = json.loads(snapshot.read_text(encoding="utf-8"))["summary"]["calls"]
        cassette = _cassette_of(cassettes, rel)
        recorded = yaml.load(cassette.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        interactions = [_floor_call(i) for i in recorded["interactions"]] or [_empty_call()]
        # As many calls as the cell made: faulted calls never reached the cassette, so the
        # recorded ones are reused in turn.
        cells.append([interactions[i % len(interactions)] for i in range(calls)])
    (floor / "floor_calls.json").write_text(json.dumps(cells), encoding="utf-8")
    (floor / "test_floor.py").write_text(FLOOR_TEST, encoding="utf-8")
    return floor


def _cassette_of(cassettes: Path, rel: Path) -> Path:
    # snapshot <provider>/<model...>-<stream>-<tools>-<fault>
    #   -> cassette <provider>/<model...>/<stream>-<tools>-<fault>.yaml
    head, _, tail = str(rel).partition("-stream-") if "-stream-" in str(rel) else str(rel).partition("-nostream-")
    word = "stream" if "-stream-" in str(rel) else "nostream"
    return cassettes / head / f"{word}-{tail}.yaml"


def _floor_call(interaction: dict[str, Any]) -> dict[str, Any]:
    request, response = interaction["request"], interaction["response"]
    if "sse" in response:
        parts = []
        for event in response["sse"]:
            if "raw" in event:
                parts.append(event["raw"])
            elif "comment" in event:
                parts.append(f":{event['comment']}\n\n")
            else:
                head = f"event: {event['event']}\n" if "event" in event else ""
                parts.append(f"{head}data: {event['data']}\n\n")
        body = "".join(parts)
    elif "parsed_body" in response:
        body = json.dumps(response["parsed_body"], ensure_ascii=False, separators=(",", ":"))
    else:
        body = (response.get("body") or {}).get("string", "")
    return {
        "uri": request["uri"],
        "request_headers": {k: v[0] for k, v in (request.get("headers") or {}).items()},
        "request_body": json.dumps(request.get("parsed_body"), ensure_ascii=False),
        "status": response["status"]["code"],
        "response_headers": {k: v[0] for k, v in (response.get("headers") or {}).items()},
        "response_body": body,
    }


def _empty_call() -> dict[str, Any]:
    return {
        "uri": "https://api.openai.com/v1/chat/completions",
        "request_headers": {},
        "request_body": "{}",
        "status": 200,
        "response_headers": {"content-type": "application/json"},
        "response_body": "{}",
    }


PEERS = {
    # peer name -> (the pytest plugin it runs under, the module that says it is installed)
    "vcrpy_sdk": ("recording", "pytest_recording"),
    "cassetter_sdk": ("cassetter", "cassetter"),
}
# The peers' pytest plugins both own a ``vcr`` marker: every other session keeps them out.
NO_PEER_PLUGINS = ["-p", "no:recording", "-p", "no:cassetter"]


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def build_sdk(runner: Runner, copies: int) -> tuple[Path, list[Path]]:
    """The byo workload: the SDK loop module (``sdk_loop.py`` at the project's root), the scenario
    recorded once with the emulator, and ``copies`` scenario files sharing its cassettes and
    snapshots. Returns (project root, scenario files)."""
    root = runner.work / "sdk"
    write_ini(root)
    (root / "sdk_loop.py").write_text(SDK_LOOP, encoding="utf-8")
    scenarios, cassettes = root / "scenarios", root / "cassettes"
    scenarios.mkdir()
    template = SDK_FIRST.removesuffix(".yaml")
    (scenarios / f"{template}.yaml").write_text(SDK_SCENARIO.format(name=template), encoding="utf-8")
    log("recording the byo SDK scenario with the emulator")
    env = {k: v for k, v in runner.env.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env["PYTHONPATH"]])
    runner.env, saved = env, runner.env
    try:
        args = ["--kylecode-matrix", f"--kylecode-scenarios={scenarios}", f"--kylecode-cassettes={cassettes}", "-q"]
        runner.pytest([*args, "--kylecode-record=all", "--snapshot-update"], cwd=root)
    finally:
        runner.env = saved
    files = [scenarios / f"{template}.yaml"]
    for n in range(1, copies):
        name = f"sdk_{n:04d}"
        (scenarios / f"{name}.yaml").write_text(SDK_SCENARIO.format(name=name), encoding="utf-8")
        _link_tree(cassettes / template, cassettes / name)
        _link_tree(scenarios / "__snapshots__" / template, scenarios / "__snapshots__" / name)
        files.append(scenarios / f"{name}.yaml")
    return root, files


def build_peers(runner: Runner, sdk_root: Path) -> tuple[dict[str, Path], str, dict[str, str]]:
    """Each installed cassette peer's project, its two cassettes recorded from the emulator served
    on loopback (``kylecode emulate``). Returns (peer -> project dir, base URL, peer -> why skipped)."""
    projects: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    wanted = {}
    for name, (_, module) in PEERS.items():
        if installed(module):
            wanted[name] = PEERS[name]
        else:
            skipped[name] = f"{module} is not installed (pip install -e '.[bench]')"
    if not wanted:
        return projects, "", skipped
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_kylecode.cli",
            "emulate",
            "--scenario",
            str(sdk_root / "scenarios/sdk_0000.yaml"),
        ],
        env=runner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its request log
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if found is None:
            raise SystemExit(f"benchmark: kylecode emulate did not start: {line!r}")
        base_url = found.group(1).rstrip("/") + "/v1"
        for name, (plugin, _) in wanted.items():
            project = runner.work / name
            write_ini(project)
            (project / "test_peer.py").write_text(PEER_TEST, encoding="utf-8")
            log(f"recording the {name} cassettes from the emulator")
            runner.pytest(
                ["-q", "-p", "no:xdist", *_peer_plugins(plugin), "--record-mode=once"],
                cwd=project,
                env={"PEER_TESTS": "2", "PEER_BASE_URL": base_url, "PYTHONPATH": _with(sdk_root, runner)},
            )
            projects[name] = project
    finally:
        server.terminate()
        server.wait(timeout=30)
    return projects, base_url, skipped


def _peer_plugins(plugin: str) -> list[str]:
    return ["-p", plugin]


def _with(directory: Path, runner: Runner) -> str:
    return os.pathsep.join([str(directory), runner.env["PYTHONPATH"]])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


@dataclass(frozen=True)
class Config:
    """One timed pytest session: its arguments, directory, environment, accepted exit codes, and
    whether pytest's cache provider is on (the matrix keeps its parsed cassettes there)."""

    args: list[str]
    cwd: Path
    env: dict[str, str]
    ok: tuple[int, ...] = (0,)
    cache: bool = False


@dataclass(frozen=True)
class Workloads:
    matrix: Path
    floor: Path
    respx: Path
    files: list[Path]
    sdk: Path
    sdk_files: list[Path]
    peers: dict[str, Path]
    base_url: str


def measure(
    runner: Runner, work: Workloads, *, cells: int, per_scenario: int, repeat: int, workers: int
) -> dict[str, Any]:
    matrix, floor = work.matrix, work.floor
    scenario_files = [str(p) for p in work.files[: -(-cells // per_scenario)]]
    cells = len(scenario_files) * per_scenario
    sdk_files = [str(p) for p in work.sdk_files[: -(-cells // SDK_CELLS_PER_SCENARIO)]]
    sdk_cells = len(sdk_files) * SDK_CELLS_PER_SCENARIO
    empty = matrix / "empty"
    empty.mkdir(exist_ok=True)
    matrix_args = [
        "--kylecode-matrix",
        f"--kylecode-scenarios={matrix / 'scenarios'}",
        f"--kylecode-cassettes={matrix / 'cassettes'}",
        "-q",
    ]
    no_cells = ["--kylecode-matrix", f"--kylecode-scenarios={empty}", "-q"]
    ci = {"CI": "true"}
    sdk_env = {"CI": "true", "PYTHONPATH": _with(work.sdk, runner)}
    bare = ["-q", "-p", "no:xdist"]
    configs: dict[str, Config] = {
        "floor": Config(bare, floor, {"FLOOR_TESTS": str(cells)}),
        "floor_empty": Config(bare, floor, {"FLOOR_TESTS": "0"}, (0, 5)),
        "respx": Config(bare, work.respx, {"FLOOR_TESTS": str(cells)}),
        "respx_empty": Config(bare, work.respx, {"FLOOR_TESTS": "0"}, (0, 5)),
        # Replay as a workstation or CI runner sees it after its first run: parsed cassettes cached.
        "matrix": Config([*matrix_args, "-p", "no:xdist", *scenario_files], matrix, ci, cache=True),
        "matrix_empty": Config([*no_cells, "-p", "no:xdist"], matrix, ci, (5,), cache=True),
        # The first run (a fresh CI machine): the cache cleared, every cassette parsed and kept.
        "matrix_cold": Config(
            [*matrix_args, "--cache-clear", "-p", "no:xdist", *scenario_files], matrix, ci, cache=True
        ),
        "matrix_xdist": Config([*matrix_args, "-n", str(workers), *scenario_files], matrix, ci, cache=True),
        "matrix_xdist_empty": Config([*no_cells, "-n", str(workers)], matrix, ci, (5,), cache=True),
        "byo_sdk": Config(
            [
                "--kylecode-matrix",
                f"--kylecode-scenarios={work.sdk / 'scenarios'}",
                f"--kylecode-cassettes={work.sdk / 'cassettes'}",
                "-q",
                "-p",
                "no:xdist",
                *sdk_files,
            ],
            work.sdk,
            sdk_env,
            cache=True,
        ),
        "byo_sdk_empty": Config([*no_cells, "-p", "no:xdist"], work.sdk, sdk_env, (5,), cache=True),
    }
    for name, project in work.peers.items():
        plugin, _ = PEERS[name]
        args = ["-q", "-p", "no:xdist", *_peer_plugins(plugin), "--record-mode=none"]
        env = {"PEER_BASE_URL": work.base_url, "PYTHONPATH": _with(work.sdk, runner)}
        configs[name] = Config(args, project, {**env, "PEER_TESTS": str(sdk_cells)})
        configs[f"{name}_empty"] = Config(args, project, {**env, "PEER_TESTS": "0"}, (0, 5))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    # Untimed: warms the bytecode cache (test modules, xdist, the peers) and the parsed cassettes.
    for name in ("floor", "respx", "matrix_xdist", "byo_sdk", *work.peers):
        config = configs[name]
        env = (
            {**config.env, "FLOOR_TESTS": "1", "PEER_TESTS": "2"}
            if name in ("floor", "respx", *work.peers)
            else config.env
        )
        runner.pytest(config.args, cwd=config.cwd, env=env, ok=config.ok, cache=config.cache)
    for r in range(repeat):
        for name, config in configs.items():  # interleaved: load drifts hit every config alike
            log(f"run {r + 1}/{repeat}: {name}")
            result = runner.pytest(config.args, cwd=config.cwd, env=config.env, ok=config.ok, cache=config.cache)
            result.pop("output")
            runs[name].append(result)

    def summary(name: str, empty_name: str, tests: int) -> dict[str, Any]:
        full, none = runs[name], runs[empty_name]
        wall, cpu = _median(full, "wall_s"), _median(full, "cpu_s")
        wall0, cpu0 = _median(none, "wall_s"), _median(none, "cpu_s")
        return {
            "tests": tests,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "startup_wall_s": round(wall0, 3),
            "startup_cpu_s": round(cpu0, 3),
            "per_cell_wall_ms": round((wall - wall0) / tests * 1000, 3),
            "per_cell_cpu_ms": round((cpu - cpu0) / tests * 1000, 3),
            "max_rss_mb": round(max(run["max_rss_mb"] for run in full), 1),
            "wall_s_runs": [round(run["wall_s"], 3) for run in full],
        }

    results = {
        "floor": summary("floor", "floor_empty", cells),
        "respx": summary("respx", "respx_empty", cells),
        "matrix": summary("matrix", "matrix_empty", cells),
        "matrix_cold": summary("matrix_cold", "matrix_empty", cells),
        "matrix_xdist": {**summary("matrix_xdist", "matrix_xdist_empty", cells), "workers": workers},
        "byo_sdk": summary("byo_sdk", "byo_sdk_empty", sdk_cells),
        **{name: summary(name, f"{name}_empty", sdk_cells) for name in work.peers},
    }

    def ratio(a: str, b: str, key: str) -> float | None:
        if a not in results or b not in results or results[b][key] <= 0:
            return None
        return round(float(results[a][key]) / float(results[b][key]), 2)

    # Every per-test cost over the floor's, and the byo cell over each peer running its very loop.
    pairs = [(name, "floor") for name in results if name != "floor"]
    pairs += [("byo_sdk", peer) for peer in PEERS]
    ratios = {
        f"{a}/{b}": {"wall": ratio(a, b, "per_cell_wall_ms"), "cpu": ratio(a, b, "per_cell_cpu_ms")} for a, b in pairs
    }
    return {
        "cells": cells,
        "sdk_cells": sdk_cells,
        **results,
        "ratios": ratios,
        "ratio_per_cell_wall": ratio("matrix", "floor", "per_cell_wall_ms"),
        "ratio_per_cell_cpu": ratio("matrix", "floor", "per_cell_cpu_ms"),
        "xdist_speedup_wall": round(results["matrix"]["wall_s"] / results["matrix_xdist"]["wall_s"], 2),
    }


TIMING_PLUGIN = """\
import os, time
_start = [0.0]

def pytest_sessionstart(session):
    _start[0] = time.time()

def pytest_collection_finish(session):
    with open(os.environ["BENCH_TIMING_FILE"], "w") as out:
        out.write(f"{_start[0]} {time.time()} {len(session.items)}")
"""


def _selection(files: list[Path], cells: int, per_scenario: int) -> tuple[list[str], int]:
    """Scenario files for ``cells`` cells, as path arguments; none when all are taken (then pytest
    walks the scenario directory, as ``pytest --kylecode-matrix`` does)."""
    chosen = files[: -(-cells // per_scenario)]
    return ([] if len(chosen) == len(files) else [str(p) for p in chosen]), len(chosen) * per_scenario


def measure_collect(
    runner: Runner, matrix: Path, files: list[Path], cells: int, per_scenario: int, repeat: int
) -> dict[str, Any]:
    """Collection proper (session start -> collection finished, from a timing plugin), the time
    from the command's start to collection finished, and the whole ``--collect-only`` command
    (which also runs every plugin's session-finish work)."""
    chosen, cells = _selection(files, cells, per_scenario)
    plugin_dir = runner.work / "timing"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "bench_timing.py").write_text(TIMING_PLUGIN, encoding="utf-8")
    stamp = plugin_dir / "stamp.txt"
    args = [
        "-p",
        "bench_timing",
        "--kylecode-matrix",
        f"--kylecode-scenarios={matrix / 'scenarios'}",
        f"--kylecode-cassettes={matrix / 'cassettes'}",
        "--collect-only",
        "-q",
        "-p",
        "no:xdist",
        *chosen,
    ]
    env = {
        "CI": "true",
        "BENCH_TIMING_FILE": str(stamp),
        "PYTHONPATH": os.pathsep.join([str(plugin_dir), runner.env["PYTHONPATH"]]),
    }
    walls, collection, to_collected, reported = [], [], [], []
    for r in range(repeat):
        log(f"collect {r + 1}/{repeat}: {cells} cells")
        started = time.time()
        result = runner.pytest(args, cwd=matrix, env=env)
        walls.append(result["wall_s"])
        session_start, collected_at, count = stamp.read_text(encoding="utf-8").split()
        if int(count) != cells:
            raise SystemExit(f"benchmark: collected {count} cells, expected {cells}")
        collection.append(float(collected_at) - float(session_start))
        to_collected.append(float(collected_at) - started)
        found = re.search(r"(\d+) tests? collected in ([0-9.]+)s", result["output"])
        if found:
            reported.append(float(found.group(2)))
    return {
        "cells": cells,
        "collection_s": round(statistics.median(collection), 3),
        "command_start_to_collected_s": round(statistics.median(to_collected), 3),
        "collect_only_wall_s": round(statistics.median(walls), 3),
        "pytest_reported_s": round(statistics.median(reported), 3) if reported else None,
    }


def measure_rss(
    runner: Runner, matrix: Path, files: list[Path], cells: int, per_scenario: int, small: dict[str, Any]
) -> dict[str, Any]:
    chosen, cells = _selection(files, cells, per_scenario)
    log(f"peak memory: {cells} cells in one process")
    result = runner.pytest(
        [
            "--kylecode-matrix",
            f"--kylecode-scenarios={matrix / 'scenarios'}",
            f"--kylecode-cassettes={matrix / 'cassettes'}",
            "-q",
            "-p",
            "no:xdist",
            *chosen,
        ],
        cwd=matrix,
        env={"CI": "true"},
    )
    out: dict[str, Any] = {
        "cells": cells,
        "max_rss_mb": round(result["max_rss_mb"], 1),
        "wall_s": round(result["wall_s"], 3),
    }
    if cells < 10_000:
        # Linear in the cell count between the timed run and this one, extrapolated to 10,000.
        n0, m0 = small["cells"], small["max_rss_mb"]
        slope = (result["max_rss_mb"] - m0) / (cells - n0) if cells != n0 else 0.0
        out["extrapolated_10000_mb"] = round(result["max_rss_mb"] + slope * (10_000 - cells), 1)
        out["note"] = f"measured at {cells} cells, extrapolated linearly to 10,000 from {n0} and {cells} cells"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=1000, help="cells (and floor tests) of the timed runs")
    parser.add_argument("--collect-cells", type=int, default=10_000, help="cells of the --collect-only run")
    parser.add_argument("--rss-cells", type=int, default=10_000, help="cells of the peak-memory run")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timed run (medians)")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers of the -n run")
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="checkout to measure")
    parser.add_argument("--keep", type=Path, help="build the workload here and keep it")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the caller's bytecode settings (default: a private, warmed bytecode cache)",
    )
    parser.add_argument("-o", "--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    faults = faults_for(max(args.cells, args.collect_cells, args.rss_cells))
    per_scenario = CELLS_PER_FAULT * len(faults)
    copies = -(-max(args.cells, args.collect_cells, args.rss_cells) // per_scenario)
    work = args.keep or Path(tempfile.mkdtemp(prefix="kylecode-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.repo.resolve(), work, bytecode_cache=not args.no_bytecode_cache)
    try:
        matrix, files = build_matrix(runner, copies, faults)
        floor = build_floor(runner, matrix, files[0])
        respx = runner.work / "respx"
        write_ini(respx)
        shutil.copy2(floor / "floor_calls.json", respx / "floor_calls.json")
        (respx / "test_respx.py").write_text(RESPX_TEST, encoding="utf-8")
        sdk, sdk_files = build_sdk(runner, -(-args.cells // SDK_CELLS_PER_SCENARIO))
        peers, base_url, skipped = build_peers(runner, sdk)
        workloads = Workloads(matrix, floor, respx, files, sdk, sdk_files, peers, base_url)
        timed = measure(
            runner, workloads, cells=args.cells, per_scenario=per_scenario, repeat=args.repeat, workers=args.workers
        )
        timed["peers_skipped"] = skipped
        collect = measure_collect(runner, matrix, files, args.collect_cells, per_scenario, args.repeat)
        rss = measure_rss(
            runner,
            matrix,
            files,
            args.rss_cells,
            per_scenario,
            {"cells": timed["cells"], "max_rss_mb": timed["matrix"]["max_rss_mb"]},
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "pytest-kylecode matrix cell vs bare pytest + httpx.MockTransport",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
            "bytecode_cache": not args.no_bytecode_cache,
        },
        "workload": {
            "cells_per_scenario": per_scenario,
            "providers": PROVIDERS,
            "faults": faults,
            "turns": 3,
            "repeat": args.repeat,
        },
        **timed,
        "collect": collect,
        "peak_memory": rss,
    }
    text = json.dumps(report, indent=2)
    for pair, value in report["ratios"].items():
        log(f"{pair:28s} per test: wall {value['wall']}x, cpu {value['cpu']}x")
    for peer, why in report["peers_skipped"].items():
        log(f"{peer}: not measured, {why}")
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
