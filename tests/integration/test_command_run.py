import json
import subprocess
import sys

import pytest
from cli_helpers import emulator

from pytest_kylecode.cli import main


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.delenv("KYLECODE_TELEMETRY_PATH", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli-0000000000")
    (tmp_path / "base.yaml").write_text("route: openai/gpt-4o-mini\nfailover: []\nstreaming: true\n")
    (tmp_path / "agent.yaml").write_text("extends: base.yaml\nmax_steps: 6\nstreaming: false\n")
    (tmp_path / "task.txt").write_text('Create greeting.txt containing "hello", then finish.\n')
    (tmp_path / "ws").mkdir()
    return tmp_path


def args(tmp_path, url, *extra):
    return [
        "run",
        str(tmp_path / "agent.yaml"),
        "--task",
        str(tmp_path / "task.txt"),
        "--workspace",
        str(tmp_path / "ws"),
        "--runs",
        str(tmp_path / "runs"),
        "--base-url",
        url,
        *extra,
    ]


def test_run_completes_against_a_loopback_emulator(files, capsys):
    with emulator() as url:
        code = main(args(files, url))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "outcome: completed (tool_finish); steps: 2; final route: openai/gpt-4o-mini" in out
    run_dir = files / "runs" / next(line for line in out.splitlines() if line.startswith("run dir: "))[9:]
    run = json.loads((run_dir / "meta" / "run.json").read_text())
    assert run["outcome"] == "completed" and run["streaming"] is False  # `extends` merged, child wins
    assert (files / "ws" / "greeting.txt").read_text() == "hello\n"
    request = json.loads((run_dir / "meta" / "requests" / "turn_1_1.json").read_text())
    assert request["url"].startswith(url) and request["headers"]["authorization"] == "Bearer [REDACTED]"


def test_failed_run_exits_1_with_the_category(files, capsys):
    with emulator(fault="http_401") as url:
        code = main(args(files, url))
    out = capsys.readouterr().out
    assert code == 1
    assert "outcome: failed (auth); steps: 0" in out and "run dir: " in out


def test_max_steps_override(files, capsys):
    with emulator() as url:
        code = main(args(files, url, "--max-steps", "1"))
    assert code == 1
    assert "outcome: max_steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": "missing.yaml"}, "cannot read agent config"),
        ({"config_text": "route: openai/gpt-4o-mini\nmax_stepz: 3\n"}, "did you mean 'max_steps'"),
        ({"config_text": "max_steps: 3\n"}, "no route"),
        ({"task": "missing.txt"}, "missing.txt"),
        ({"extra": ["--base-url", "ftp://x"]}, "--base-url must start with http"),
    ],
)
def test_usage_errors_are_one_line_exit_2(files, change, message):
    config = files / change.get("config", "agent.yaml")
    if "config_text" in change:
        config.write_text(change["config_text"])
    cmd = [
        sys.executable,
        "-m",
        "pytest_kylecode.cli",
        "run",
        str(config),
        "--task",
        str(files / change.get("task", "task.txt")),
        "--workspace",
        str(files / "ws"),
        "--runs",
        str(files / "runs"),
        *change.get("extra", []),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("kylecode run: error: ") and message in proc.stderr
