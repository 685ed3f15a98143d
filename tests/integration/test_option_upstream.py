"""Recording against live providers, tested offline.

``kylecode emulate`` runs as a real loopback server in a subprocess and every provider's base URL
is pointed at it with ``KYLECODE_<PROVIDER>_BASE_URL``: the matrix then records with
``--kylecode-upstream=live`` through the same code path (real HTTP, real keys) it uses against
the real providers. Checked here: cassettes keep canonical provider URLs, no key (canary values,
echoed by the task and the model) reaches a cassette, keys reach the runtime only when it talks to
the live upstream, the call cap stops recording with a clear failure and writes no cassette, and
CI refuses the live upstream unless explicitly allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

CANARY_OPENAI = "sk-proj-CANARYopenai0000111122223333"
CANARY_ANTHROPIC = "sk-ant-CANARYanthropic000011112222"

SCENARIO = f"""\
name: live_basic
task: "List the workspace, then finish. (Pasted by mistake: {CANARY_OPENAI})"
workspace: {{README.md: "# demo\\n"}}
agent: {{failover: [], max_steps: 4}}
script:
  - tool_calls: [{{name: list_dir, arguments: {{path: "."}}}}]
  - text: "Done; your key {CANARY_ANTHROPIC} should not be pasted into chats."
    tool_calls: [{{name: mark_task_complete, arguments: {{summary: one file}}}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]
  streaming: [true, false]
  tools: [native]
  fault: [none]
expect: {{outcome: completed, completion_reason: tool_finish, steps: 2, tool_sequence: [list_dir, mark_task_complete]}}
snapshot: false
"""

CANONICAL = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
    "openai-responses": "https://api.openai.com/v1/responses",
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kylecode emulate`` on a free loopback port; yields its base URL."""
    scenario = tmp_path_factory.mktemp("emulator") / "live_basic.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_kylecode.cli", "emulate", "--scenario", str(scenario), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server listens: no sleeping, no polling
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield line.split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def live_env(emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("CI", raising=False)
    for provider in ("OPENAI", "ANTHROPIC", "OPENAI_RESPONSES"):
        monkeypatch.setenv(f"KYLECODE_{provider}_BASE_URL", f"{emulator}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_OPENAI)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY_ANTHROPIC)
    return emulator


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"scenarios/live_basic": SCENARIO})
    pytester.makeini("[pytest]\nkylecode_scenarios = scenarios\nkylecode_cassettes = cassettes\n")
    return pytester


def _record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(
        "--kylecode-matrix", "--kylecode-record=all", "--kylecode-upstream=live", "-p", "no:cacheprovider", *args
    )


def _cassettes(project: pytest.Pytester) -> list[Path]:
    return sorted((project.path / "cassettes").rglob("*.yaml"))


def test_live_recording_stores_canonical_urls_and_no_keys(project: pytest.Pytester, live_env: str) -> None:
    result = _record(project)
    result.assert_outcomes(passed=6)
    files = _cassettes(project)
    assert len(files) == 6
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "CANARY" not in text, f"a key reached {path}"
        assert "127.0.0.1" not in text, f"the overridden base URL reached {path}"
        data = yaml.safe_load(text)
        assert data["kylecode"]["upstream"] == "live"
        provider = path.relative_to(project.path / "cassettes" / "live_basic").parts[0]
        assert {i["request"]["uri"] for i in data["interactions"]} == {CANONICAL[provider]}
        assert len(data["interactions"]) == 2
    # The canary really travelled: the task carried one, the model echoed the other.
    recorded = files[0].read_text(encoding="utf-8")
    assert "[REDACTED]" in recorded
    # The terminal summary lists what changed, relative to the project, for a git review.
    result.stdout.fnmatch_lines(
        ["kylecode: 6 cassettes changed (review them with git diff):", "  cassettes/live_basic/*.yaml"]
    )


def test_recorded_live_cassettes_replay_offline(
    project: pytest.Pytester, live_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(project).assert_outcomes(passed=6)
    # Replay on a CI machine: no base-URL override, no key, CI set.
    for name in (
        "KYLECODE_OPENAI_BASE_URL",
        "KYLECODE_ANTHROPIC_BASE_URL",
        "KYLECODE_OPENAI_RESPONSES_BASE_URL",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CI", "true")
    project.runpytest_subprocess("--kylecode-matrix", "-p", "no:cacheprovider").assert_outcomes(passed=6)


def _request_headers(runs: Path) -> list[dict[str, str]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))["headers"]
        for p in sorted(runs.rglob("turn_*_*.json"))
        if p.parent.name == "requests"
    ]


def test_keys_reach_the_runtime_only_when_it_talks_to_the_live_upstream(
    project: pytest.Pytester, live_env: str
) -> None:
    _record(project, "--kylecode-keep-runs", "--kylecode-runs=live-runs", "-k", "anthropic").assert_outcomes(passed=2)
    live = _request_headers(project.path / "live-runs")
    assert live and all(h.get("x-api-key") == "[REDACTED]" for h in live)

    # Replaying the same cassettes (record mode none): the runtime never sees the key.
    project.runpytest_subprocess(
        "--kylecode-matrix",
        "--kylecode-upstream=live",
        "--kylecode-keep-runs",
        "--kylecode-runs=replay-runs",
        "-k",
        "anthropic",
        "-p",
        "no:cacheprovider",
    ).assert_outcomes(passed=2)
    replay = _request_headers(project.path / "replay-runs")
    assert replay and not any("x-api-key" in h or "authorization" in h for h in replay)

    # Recording from the in-process emulator: no key either.
    project.runpytest_subprocess(
        "--kylecode-matrix",
        "--kylecode-record=all",
        "--kylecode-keep-runs",
        "--kylecode-runs=emulator-runs",
        "-k",
        "anthropic",
        "-p",
        "no:cacheprovider",
    ).assert_outcomes(passed=2)
    emulated = _request_headers(project.path / "emulator-runs")
    assert emulated and not any("x-api-key" in h or "authorization" in h for h in emulated)


def test_call_cap_stops_recording_with_a_clear_failure(project: pytest.Pytester, live_env: str) -> None:
    result = _record(project, "--kylecode-max-live-calls=3")
    # Cell 1 takes two calls, cell 2 gets one more and is refused the next: the session stops.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "live call budget exhausted: 3 calls to live providers (--kylecode-max-live-calls 3) *",
            "no cassette was written for this cell; raise the cap with --kylecode-max-live-calls N and re-record it",
        ]
    )
    result.stdout.fnmatch_lines(["*kylecode: live call budget exhausted*"])  # the reason the session stopped
    # Only the complete recording was written; the refused cell left nothing behind.
    assert [p.name for p in _cassettes(project)] == ["stream-native-none.yaml"]


def test_call_cap_is_shared_by_xdist_workers(project: pytest.Pytester, live_env: str) -> None:
    result = _record(project, "--kylecode-max-live-calls=4", "-n", "2")
    passed = result.parseoutcomes().get("passed", 0)
    # Four calls in all make at most two complete cells (two calls each), however the workers
    # interleave; counted per worker, the cap would have let four cells through.
    assert 1 <= passed <= 2, result.stdout.str()
    result.stdout.fnmatch_lines(["*live call budget exhausted: 4 calls to live providers*"])
    cassettes = _cassettes(project)
    assert len(cassettes) == passed
    assert all(len(yaml.safe_load(p.read_text(encoding="utf-8"))["interactions"]) == 2 for p in cassettes)


@pytest.mark.parametrize("args", [("--kylecode-upstream=live",), ("--kylecode-upstream=live", "--kylecode-record=all")])
def test_ci_refuses_the_live_upstream(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CI", "true")
    result = project.runpytest_subprocess("--kylecode-matrix", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*refused because CI is set*--kylecode-allow-record-in-ci*"])
    assert _cassettes(project) == []


def test_ci_allows_the_live_upstream_when_told_to(
    project: pytest.Pytester, live_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = _record(project, "--kylecode-allow-record-in-ci", "-k", "openai-responses")
    result.assert_outcomes(passed=2)
    assert len(_cassettes(project)) == 2


def test_scrubbing_removes_key_values_known_only_from_the_environment(
    project: pytest.Pytester, live_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key that matches no key pattern is still known by value from the environment: scrubbed.
    monkeypatch.setenv("OPENAI_API_KEY", "plainvalue-without-prefix-123456")
    scenario = SCENARIO.replace(CANARY_OPENAI, "plainvalue-without-prefix-123456")
    (project.path / "scenarios" / "live_basic.yaml").write_text(scenario, encoding="utf-8")
    _record(project, "-k", "openai/gpt-4o-mini").assert_outcomes(passed=2)
    for path in _cassettes(project):
        assert "plainvalue-without-prefix" not in path.read_text(encoding="utf-8")


def test_a_key_split_over_stream_events_is_never_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No variable holds this key, so only its shape betrays it; streamed, the model's text arrives
    # as "sk", "-", "proj", "-", "..." and no single event looks like a key.
    monkeypatch.delenv("CI", raising=False)
    leaky = SCENARIO.replace(CANARY_ANTHROPIC, "sk-proj-LEAKEDLEAKED1234567890").replace(
        "streaming: [true, false]", "streaming: [true]"
    )
    pytester.makefile(".yaml", **{"scenarios/live_basic": leaky})
    result = pytester.runpytest_subprocess(
        "--kylecode-matrix", "--kylecode-record=all", "-p", "no:cacheprovider", "-k", "openai/gpt-4o-mini"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*refusing to write *: key-shaped values survived scrubbing (sk-pro…)"])
    assert not list((pytester.path / "cassettes").rglob("*.yaml"))
    # The cell failed: its run directory is kept, to see what the model sent, key masked as elsewhere.
    [line] = [line for line in result.stdout.lines if line.startswith("run directory: ")]
    run_dir = Path(line.split()[2])
    assert run_dir.is_dir() and (run_dir / "meta" / "run.json").is_file()
    written = "".join(p.read_text(encoding="utf-8") for p in run_dir.rglob("*") if p.is_file())
    assert "sk-proj-LEAKEDLEAKED1234567890" not in written
