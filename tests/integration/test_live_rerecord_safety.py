"""Re-recording against a live upstream that fails loses nothing, and costs no synthetic wall time.

The "live" providers here are real loopback HTTP servers (the emulator's server, or one that
answers every request with a 401), reached through ``KYLECODE_<PROVIDER>_BASE_URL``, exactly as
real providers are reached. A matrix is recorded first; re-recording it against an upstream that
answers 401, refuses connections, lacks the key or runs out of call budget fails every cell and
leaves the cassette and snapshot trees byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, parse_script
from pytest_kylecode.loopback import LoopbackServer

SCENARIO = """\
name: relive
task: List the workspace, then finish.
workspace: {README.md: "# demo\\n"}
agent: {failover: [], max_steps: 4}
script:
  - tool_calls: [{name: list_dir, arguments: {path: "."}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: one file}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  tools: [native]
  fault: [none, http_429]
expect: {outcome: completed, completion_reason: tool_finish, steps: 2}
"""
KEYS = {"OPENAI_API_KEY": "sk-proj-relive0000111122223333", "ANTHROPIC_API_KEY": "sk-ant-relive000011112222"}


def _tree(root: Path) -> dict[str, str]:
    files = [*(root / "cassettes").rglob("*"), *(root / "scenarios" / "__snapshots__").rglob("*")]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "KYLECODE_OPENAI_BASE_URL", "KYLECODE_ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".yaml", **{"scenarios/relive": SCENARIO})
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update").assert_outcomes(
        passed=8
    )
    return pytester


def _rerecord(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(
        "--kylecode-matrix", "--kylecode-upstream=live", "--kylecode-record=rewrite", "--snapshot-update", *args
    )


def _point_at(monkeypatch: pytest.MonkeyPatch, url: str, *, keys: bool = True) -> None:
    monkeypatch.setenv("KYLECODE_OPENAI_BASE_URL", f"{url}/v1")
    monkeypatch.setenv("KYLECODE_ANTHROPIC_BASE_URL", f"{url}/v1")
    if keys:
        for name, value in KEYS.items():
            monkeypatch.setenv(name, value)


def _unauthorized(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        401,
        json={
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    )


@pytest.fixture
def refusing_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_upstream_answering_401_changes_nothing(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree(project.path)
    with LoopbackServer(httpx.MockTransport(_unauthorized)) as server:
        _point_at(monkeypatch, server.url)
        result = _rerecord(project)
    result.assert_outcomes(failed=8)
    assert _tree(project.path) == before
    result.stdout.fnmatch_lines(["kylecode: kept 8 cassettes as they were: the cells failed (first: auth: *"])


def test_an_upstream_refusing_connections_changes_nothing(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, refusing_port: int
) -> None:
    before = _tree(project.path)
    _point_at(monkeypatch, f"http://127.0.0.1:{refusing_port}")
    started = time.monotonic()
    result = _rerecord(project)
    result.assert_outcomes(failed=8)
    assert _tree(project.path) == before
    result.stdout.fnmatch_lines(["kylecode: kept 8 cassettes as they were: the cells failed (first: connection: *"])
    # Each cell retries with backoff: on the cell's clock, not on the wall.
    assert time.monotonic() - started < 60


def test_a_provider_without_its_key_gets_no_request(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree(project.path)
    # No base URL override and no key: a request would go to the real api.openai.com.
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEYS["ANTHROPIC_API_KEY"])
    result = _rerecord(project, "-k", "openai")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "recording openai/gpt-4o-mini from the live provider needs OPENAI_API_KEY in the "
            "environment (or KYLECODE_OPENAI_BASE_URL pointing elsewhere): no request was sent*"
        ]
    )
    assert _tree(project.path) == before


def test_a_spent_live_budget_changes_nothing(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree(project.path)
    script = parse_script(yaml.safe_load(SCENARIO)["script"])
    with LoopbackServer(EmulatorTransport(script, timing=IMMEDIATE)) as server:
        _point_at(monkeypatch, server.url)
        result = _rerecord(project, "--kylecode-max-live-calls=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "kylecode: kept 1 cassettes as they were: the cells failed (first: live call budget exhausted)*",
            "*Interrupted: kylecode: live call budget exhausted*",
        ]
    )
    assert _tree(project.path) == before


def test_a_keyless_failover_route_is_refused_before_sending(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The primary route is pointed at a loopback upstream that fails; its failover route has no key
    and no override, so its call is refused instead of reaching the real host."""
    monkeypatch.delenv("CI", raising=False)
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "KYLECODE_OPENROUTER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    scenario = (
        SCENARIO.replace(
            "agent: {failover: [], max_steps: 4}", "agent: {failover: [openrouter/openai/gpt-4o-mini], max_steps: 4}"
        )
        .replace("provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]", "provider: [openai/gpt-4o-mini]")
        .replace("fault: [none, http_429]", "fault: [html_200]")
    )
    pytester.makefile(".yaml", **{"scenarios/relive": scenario})
    with LoopbackServer(httpx.MockTransport(_unauthorized)) as server:
        monkeypatch.setenv("KYLECODE_OPENAI_BASE_URL", f"{server.url}/v1")
        result = pytester.runpytest_subprocess(
            "--kylecode-matrix", "--kylecode-upstream=live", "--kylecode-record=rewrite", "-p", "no:cacheprovider"
        )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "OPENROUTER_API_KEY is not set: refused POST https://openrouter.ai/api/v1/chat/"
            "completions (a openrouter endpoint) before sending it*"
        ]
    )
    assert not (pytester.path / "cassettes").exists()


@pytest.fixture
def live_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    script = parse_script(yaml.safe_load(SCENARIO)["script"])
    with LoopbackServer(EmulatorTransport(script, timing=IMMEDIATE)) as server:
        _point_at(monkeypatch, server.url)
        yield server.url


def test_synthetic_delays_cost_no_wall_time_when_recording_live(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, live_emulator: str
) -> None:
    """A 61 s latency, a first-byte timeout (61 s) and a stall (31 s) plus Retry-After and backoff:
    minutes on a real clock, a few seconds here."""
    monkeypatch.delenv("CI", raising=False)
    scenario = (
        SCENARIO.replace(
            "fault: [none, http_429]", "fault: [{kind: latency, ms: 61000}, timeout, stall, {kind: http_429, times: 2}]"
        )
        .replace("provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]", "provider: [openai/gpt-4o-mini]")
        .replace("streaming: [true, false]", "streaming: [true]")
    )
    pytester.makefile(".yaml", **{"scenarios/relive": scenario})
    # Every real sleep of the recording session is summed (time.sleep and asyncio.sleep): wall time
    # alone would depend on how busy the machine is.
    pytester.makeconftest(
        "import asyncio, time\n"
        "SLEPT = [0.0]\n"
        "_sleep, _asleep = time.sleep, asyncio.sleep\n"
        "def _counted(s):\n    SLEPT[0] += s\n    _sleep(s)\n"
        "async def _acounted(s, *a, **k):\n    SLEPT[0] += s\n    return await _asleep(s, *a, **k)\n"
        "time.sleep, asyncio.sleep = _counted, _acounted\n"
        "def pytest_sessionfinish(session):\n    print(f'SLEPT {SLEPT[0]:.3f}')\n"
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--kylecode-matrix",
        "--kylecode-upstream=live",
        "--kylecode-record=all",
        "-p",
        "no:cacheprovider",
        "--snapshot-update",
        "-s",
    )
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=4)
    synthetic = 61 + 61 + 31 + 2
    slept = float(next(line for line in result.outlines if "SLEPT" in line).split("SLEPT")[1])
    assert slept < 1.0, f"{slept:.1f} s of real sleep for {synthetic} s of synthetic delay"
    assert elapsed < synthetic / 2, f"{elapsed:.1f} s of wall time for {synthetic} s of synthetic delay"
    # The latency is on the cell's clock: the metrics say so.
    snapshot = pytester.path / "scenarios/__snapshots__/relive/openai/gpt-4o-mini-stream-native-latency-ms=61000.json"
    assert yaml.safe_load(snapshot.read_text())["routes"]["openai/gpt-4o-mini"]["latency_ms"]["max"] >= 61000
