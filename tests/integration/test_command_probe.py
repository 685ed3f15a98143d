import json
import subprocess
import sys

import pytest
from cli_helpers import emulator

from pytest_kylecode.cli import main

PROBE_SCRIPT = [{"text": "OK", "tool_calls": [{"name": "kylecode_probe", "arguments": {"value": "ok"}}]}]


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "agent.yaml"
    path.write_text("route: openai/gpt-4o-mini\nfailover: [openrouter/z-ai/glm-4.6]\n")
    return path


def point_all_at(monkeypatch, url):
    monkeypatch.setenv("KYLECODE_OPENAI_BASE_URL", url)
    monkeypatch.setenv("KYLECODE_OPENROUTER_BASE_URL", url)


def test_probe_report_to_stdout(config, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-probe-000000000")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-probe0000000000")
    with emulator(PROBE_SCRIPT) as url:
        point_all_at(monkeypatch, url)
        code = main(["probe", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["routes"] == ["openai/gpt-4o-mini", "openrouter/z-ai/glm-4.6"]
    checks = {(c["route"], c["check"]): c["status"] for c in report["checks"]}
    assert checks[("openai/gpt-4o-mini", "key")] == "pass"
    assert checks[("openai/gpt-4o-mini", "tools")] == "pass"  # the tool was sent and called
    assert checks[("openrouter/z-ai/glm-4.6", "stream")] == "pass"
    assert report["status"] == "warn"  # the scripted answer is no JSON object
    assert "sk-test-probe" not in json.dumps(report)


def test_missing_key_fails_with_exit_1_and_report_file(config, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-probe-000000000")
    with emulator(PROBE_SCRIPT) as url:
        point_all_at(monkeypatch, url)
        code = main(["probe", str(config), "-o", str(tmp_path / "out" / "report.json")])
    out = capsys.readouterr().out
    assert code == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "fail"
    assert "fail  openrouter/z-ai/glm-4.6  key: OPENROUTER_API_KEY is not set" in out
    assert "openrouter/z-ai/glm-4.6" not in report["probes"]


def test_bad_config_is_one_line_exit_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("route: nowhere/x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "probe", str(tmp_path / "bad.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("kylecode probe: error: ") and "unknown provider 'nowhere'" in proc.stderr
