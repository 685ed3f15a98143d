"""Canary secrets: plant unique keys everywhere a secret can enter, then search every byte written.

Canaries (fresh random values on every run) go into every provider key variable — key-shaped ones
(``sk-ant-…``, ``gsk_…``) and plain ones that only the literal-value redaction can recognise —, into the
request headers (the live path sends them as ``authorization`` / ``x-api-key`` to a loopback
``kylecode emulate``), into a query string (a base URL carrying ``?key=…``), and into request and response
bodies: the task, workspace files the agent reads, text the model streams (split over many SSE events),
arguments of a tool call that writes one to disk, the summary of the finishing call, and the arguments of
a looping call that the loop guard quotes in its failure message.

Written and then searched: the cassettes and run directories of a live recording, of an emulator
recording and of a CI replay; the matrix reports; the telemetry file of all of them; the syrupy
snapshots directory; ``kylecode run``'s run directory; vendor bundles of every run directory (each zip
entry decompressed); and the captured terminal output of every command. Searched for: each canary,
its base64 forms, and every 10-character window of its random part (so a key split across stream events
still counts). Zero occurrences; the number of places searched is asserted and shown in the message.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agent_runtime.observe.redact import key_env_names

_SHAPED = {  # key-shaped canaries: the pattern redaction must catch them even without the literal
    "OPENAI_API_KEY": "sk-proj-",
    "ANTHROPIC_API_KEY": "sk-ant-api03-",
    "OPENROUTER_API_KEY": "sk-or-v1-",
    "DEEPSEEK_API_KEY": "sk-",
    "GROQ_API_KEY": "gsk_",
}


def _canaries() -> dict[str, str]:
    out = {}
    for name in key_env_names():
        token = secrets.token_hex(12)
        tag = name.split("_")[0].lower()
        out[name] = f"{_SHAPED[name]}CANARY{tag}{token}" if name in _SHAPED else f"canary{tag}{token}"
    return out


CANARIES = _canaries()
QUERY_CANARY = f"querycanary{secrets.token_hex(12)}"  # not a key variable: only the query-name rule hides it
ALL = {**CANARIES, "query": QUERY_CANARY}

C = CANARIES
SCENARIO = f"""\
name: canary_live
task: "Copy the key {C["OPENAI_API_KEY"]} (and {C["MISTRAL_API_KEY"]}) from .env into secret.txt, then finish."
workspace:
  .env: "ANTHROPIC_API_KEY={C["ANTHROPIC_API_KEY"]}\\nMISTRAL_API_KEY={C["MISTRAL_API_KEY"]}\\n"
  notes.md: "groq token {C["GROQ_API_KEY"]} and zai {C["ZAI_API_KEY"]}\\n"
agent:
  max_steps: 6
  failover: []
  recovery:
    server_error: {{action: retry, max_retries: 1, backoff: {{base: 0, factor: 1, max: 0, jitter: 0}}}}
    stream_error: {{action: retry, max_retries: 1, backoff: {{base: 0, factor: 1, max: 0, jitter: 0}}}}
    overloaded: {{action: retry, max_retries: 1, backoff: {{base: 0, factor: 1, max: 0, jitter: 0}}}}
script:
  - tool_calls: [{{name: read_file, arguments: {{path: .env}}}}, {{name: read_file, arguments: {{path: notes.md}}}}]
  - text: "The keys are {C["ANTHROPIC_API_KEY"]} and {C["MOONSHOT_API_KEY"]} - writing {C["OPENROUTER_API_KEY"]} now."
    reasoning: "Reading {C["DEEPSEEK_API_KEY"]} was needed; {C["XAI_API_KEY"]} too."
    tool_calls:
      - name: write_file
        arguments: {{path: secret.txt, content: "{C["OPENROUTER_API_KEY"]} {C["MISTRAL_API_KEY"]}"}}
  - tool_calls:
      - {{name: mark_task_complete, arguments: {{summary: "copied {C["GEMINI_API_KEY"]} {C["GOOGLE_API_KEY"]}"}}}}
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1, mistral/mistral-large-latest]
  streaming: [true, false]
  tools: [native, text]
  fault: [none, sse_error, http_401]
expect: {{outcome: completed, files: {{secret.txt: "{C["OPENROUTER_API_KEY"]} {C["MISTRAL_API_KEY"]}"}}}}
snapshot: false
"""

LOOP = f"""\
name: canary_loop
task: "Write {C["AZURE_OPENAI_API_KEY"]} somewhere."
agent: {{max_steps: 8, failover: []}}
script:
  - text: "Writing {C["KYLECODE_API_KEY"]} again."
    tool_calls:
      - {{name: write_file, arguments: {{path: k.txt, content: "{C["KYLECODE_API_KEY"]} {C["ANTHROPIC_API_KEY"]}"}}}}
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  tools: [native]
  fault: [none]
expect: {{outcome: completed}}
snapshot: true
"""

# Canaries in what is sent only (task, workspace files read back): its recording must replay in CI.
# (A recorded *answer* that contains a key is stored masked, so its replay diverges by design.)
REQUESTS_ONLY = f"""\
name: canary_req
task: "Read .env (it holds {C["OPENAI_API_KEY"]} and {C["MISTRAL_API_KEY"]}), write notes.txt, finish."
workspace: {{.env: "ANTHROPIC_API_KEY={C["ANTHROPIC_API_KEY"]}\\nZAI_API_KEY={C["ZAI_API_KEY"]}\\n"}}
agent: {{max_steps: 6, failover: []}}
script:
  - tool_calls: [{{name: read_file, arguments: {{path: .env}}}}]
  - tool_calls: [{{name: write_file, arguments: {{path: notes.txt, content: "done"}}}}]
  - tool_calls: [{{name: mark_task_complete, arguments: {{summary: ok}}}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1, mistral/mistral-large-latest]
  streaming: [true, false]
  tools: [native, text]
  fault: [none, http_500]
expect: {{outcome: completed, files: {{notes.txt: done}}}}
snapshot: false
"""


def _needles() -> dict[str, list[bytes]]:
    """For each canary: the value, its base64 forms at the three alignments, and 10-byte windows of its
    random part (a key cut into stream deltas leaves pieces, not the whole)."""
    out: dict[str, list[bytes]] = {}
    for name, value in ALL.items():
        raw = value.encode()
        forms = [raw]
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 : -4]
            forms.append(encoded)
        token = value[-24:]
        forms += [token[i : i + 10].encode() for i in range(0, len(token) - 9)]
        out[name] = forms
    return out


NEEDLES = _needles()


def _search(blob: bytes, where: str, found: list[str]) -> None:
    for name, forms in NEEDLES.items():
        for form in forms:
            if form in blob:
                at = blob.index(form)
                found.append(
                    f"{where}: {name} ({form.decode(errors='replace')}) ...{blob[max(0, at - 80) : at + 40]!r}"
                )
                break


@pytest.fixture
def emulator(tmp_path: Path) -> tuple[str, Path]:
    """A loopback ``kylecode emulate`` playing the scenario's script; yields its URL and its log file."""
    scenario = tmp_path / "emulator_scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    log = tmp_path / "emulator.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_kylecode.cli", "emulate", "--scenario", str(scenario), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until it listens
            assert line.startswith("listening on http://127.0.0.1:"), line
            yield line.split("listening on ", 1)[1].strip(), log
        finally:
            proc.terminate()  # ours
            proc.wait(timeout=10)
            proc.stdout.close()  # type: ignore[union-attr]


def test_no_canary_reaches_any_byte_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, emulator: tuple[str, Path], tmp_path: Path
) -> None:
    url, emulator_log = emulator
    root = pytester.path
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "CI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    for provider in ("OPENAI", "ANTHROPIC", "OPENAI_RESPONSES"):
        monkeypatch.setenv(f"KYLECODE_{provider}_BASE_URL", f"{url}/v1")
    # A gateway that takes its key in the query string; the fragment swallows the endpoint suffix.
    monkeypatch.setenv("KYLECODE_MISTRAL_BASE_URL", f"{url}/v1/chat/completions?key={QUERY_CANARY}&x=1#")
    telemetry = root / "telemetry" / "all.jsonl"
    monkeypatch.setenv("KYLECODE_TELEMETRY_PATH", str(telemetry))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    for directory, files in (
        ("scen_live", {"canary_live.yaml": SCENARIO}),
        ("scen_emu", {"canary_live.yaml": SCENARIO, "canary_loop.yaml": LOOP, "canary_req.yaml": REQUESTS_ONLY}),
        ("scen_req", {"canary_req.yaml": REQUESTS_ONLY}),
    ):
        (root / directory).mkdir()
        for name, text in files.items():
            (root / directory / name).write_text(text, encoding="utf-8")
    inputs = {p for p in root.glob("scen_*/*.yaml")}

    outputs: list[tuple[str, str]] = []

    def session(label: str, *args: str, ci: bool = False) -> pytest.RunResult:
        if ci:
            monkeypatch.setenv("CI", "true")
        try:
            result = pytester.runpytest_subprocess("--kylecode-matrix", "--kylecode-keep-runs", *args)
        finally:
            monkeypatch.delenv("CI", raising=False)
        outputs.append((f"terminal output of {label}", result.stdout.str() + result.stderr.str()))
        return result

    live = session(
        "the live recording",
        "--kylecode-record=all",
        "--kylecode-upstream=live",
        "--kylecode-scenarios=scen_live",
        "--kylecode-cassettes=cassettes_live",
        "--kylecode-runs=runs/live",
        "--kylecode-report=report_live",
    )
    cells_live = 4 * 2 * 2 * 3 - 4 * 2  # sse_error needs streaming
    assert live.parseoutcomes().get("passed") == cells_live - 16, live.stdout.str()[-3000:]  # http_401 cells fail
    emu = session(
        "the emulator recording",
        "--kylecode-record=all",
        "--kylecode-scenarios=scen_emu",
        "--kylecode-cassettes=cassettes_emu",
        "--kylecode-runs=runs/emu",
        "--kylecode-report=report_emu",
        "--snapshot-update",
    )
    assert emu.parseoutcomes().get("failed") == 16 + 4, emu.stdout.str()[-3000:]  # 401 cells, every loop cell
    replay = session(
        "the CI replay",
        "--kylecode-scenarios=scen_req",
        "--kylecode-cassettes=cassettes_emu",
        "--kylecode-runs=runs/replay",
        "--kylecode-report=report_replay",
        ci=True,
    )
    assert replay.parseoutcomes() == {"passed": 32}, replay.stdout.str()[-3000:]

    # kylecode run against the same loopback server, with a canary in its task.
    (root / "cli").mkdir()
    (root / "cli" / "agent.yaml").write_text("route: mistral/mistral-large-latest\nmax_steps: 5\n", encoding="utf-8")
    (root / "cli" / "task.txt").write_text(f"Use {C['MISTRAL_API_KEY']} to copy the key.", encoding="utf-8")
    workspace = root / "cli" / "ws"
    workspace.mkdir()
    (workspace / ".env").write_text(f"MISTRAL_API_KEY={C['MISTRAL_API_KEY']}\n", encoding="utf-8")
    (workspace / "notes.md").write_text("nothing\n", encoding="utf-8")
    inputs |= {root / "cli" / "agent.yaml", root / "cli" / "task.txt", workspace / ".env"}
    inputs |= {p for p in workspace.rglob("*") if p.is_file()}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pytest_kylecode.cli", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        outputs.append((f"output of kylecode {args[0]}", result.stdout + result.stderr))
        return result

    run = cli("run", "cli/agent.yaml", "--task", "cli/task.txt", "--workspace", "cli/ws", "--runs", "runs/cli")
    assert run.returncode == 0, run.stdout + run.stderr
    inputs |= {p for p in workspace.rglob("*") if p.is_file()}  # what the agent wrote is the user's own data
    assert cli("metrics", str(telemetry), "--summary").returncode == 0

    # Vendor bundles of every run directory: one through the installed command, the rest in-process.
    from agent_runtime.observe.bundle import build_bundle

    run_dirs = sorted(p for p in (root / "runs").glob("*/*") if p.is_dir())
    assert len(run_dirs) == 2 * cells_live + 4 + 2 * 32 + 1
    (root / "bundles").mkdir()
    first = cli("bundle", str(run_dirs[0]), "-o", str(root / "bundles" / "first.zip"))
    assert first.returncode == 0, first.stderr
    for run_dir in run_dirs[1:]:
        build_bundle(run_dir, root / "bundles" / f"{run_dir.parent.name}_{run_dir.name}.zip")

    # Search every byte written.
    found: list[str] = []
    places = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path in inputs:
            continue
        data = path.read_bytes()
        _search(data, str(path.relative_to(root)), found)
        places += 1
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for entry in zf.namelist():
                    _search(zf.read(entry), f"{path.relative_to(root)}!{entry}", found)
                    places += 1
    for label, text in outputs:
        _search(text.encode(), label, found)
        places += 1
    _search(emulator_log.read_bytes(), "the emulator's log", found)
    places += 1
    kinds = {
        "cassettes_live",
        "cassettes_emu",
        "runs",
        "report_live",
        "report_emu",
        "report_replay",
        "telemetry",
        "bundles",
        "scen_emu",
    }  # scen_emu: the snapshots of canary_loop
    assert kinds <= {p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file()}
    assert places > 2000, places
    assert not found, f"{len(found)} canary leaks in {places} places searched:\n" + "\n".join(found)
    print(f"canary search: {places} places searched, {len(NEEDLES)} canaries, 0 occurrences")
