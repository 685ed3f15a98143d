"""``kylecode init`` in an empty directory, then the generated gate's commands run here, as its jobs would.

The starter scenario is recorded from the emulator (CI unset), then every ``run:`` step of the
gate's matrix job runs in bash for each shard, with ``CI=true`` and the job's variables, skipping
only the install step (the plugin is installed in this interpreter's environment already) and the
steps that run on failure: every shard must replay green and leave its reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
RECORD = ("--kylecode-record=once", "--snapshot-update")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(("PYTEST_", "GITHUB_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


def _kylecode(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", *args], cwd=root, capture_output=True, text=True, env=_env()
    )


@pytest.mark.slow  # four shards of a recorded matrix, each replayed in a subprocess
def test_init_then_the_gate_replays_green_on_every_shard(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    done = _kylecode(root, "init")
    assert done.returncode == 0, done.stderr
    gate = root / ".github/workflows/kylecode-matrix.yml"
    assert gate.is_file() and (root / ".github/workflows/kylecode-rerecord.yml").is_file()
    assert (root / "pytest.ini").read_text(encoding="utf-8").startswith("[pytest]\nkylecode_scenarios = scenarios\n")
    again = _kylecode(root, "init")
    assert again.returncode == 1 and "scenarios/starter.yaml exists" in again.stderr  # nothing replaced

    record = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kylecode-matrix", *RECORD],
        cwd=root,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert record.returncode == 0, record.stdout[-3000:] + record.stderr[-3000:]

    workflow = yaml.safe_load(gate.read_text(encoding="utf-8"))
    job = workflow["jobs"]["matrix"]
    shards = job["strategy"]["matrix"]["shard"]
    for shard in shards:
        summary = tmp_path / f"summary-{shard}.md"
        for step in job["steps"]:
            if "run" not in step or step.get("name") == "Install" or step.get("if") == "failure()":
                continue
            if step.get("if") == "matrix.shard == 1" and shard != 1:
                continue
            script = step["run"].replace("${{ matrix.shard }}", str(shard))
            env = {k: str(v).replace("${{ matrix.shard }}", str(shard)) for k, v in step.get("env", {}).items()}
            ran = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=root,
                capture_output=True,
                text=True,
                env=_env(CI="true", GITHUB_STEP_SUMMARY=str(summary), **env),
                timeout=600,
            )
            assert ran.returncode == 0, f"shard {shard}, {step.get('name')}:\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}"
        assert (root / f"reports/matrix-{shard}/report.json").is_file()
        assert (root / f"reports/matrix-{shard}/summary.md").is_file()
        assert summary.read_text(encoding="utf-8").strip()  # the job summary got the report


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("pyproject.toml", '[project]\nname = "x"\n', '[tool.pytest.ini_options]\nkylecode_scenarios = "scenarios"\n'),
        (
            "pyproject.toml",
            '[tool.pytest.ini_options]\nkylecode_cassettes = "tapes"\naddopts = "-q"\n',
            '[tool.pytest.ini_options]\nkylecode_scenarios = "scenarios"\nkylecode_cassettes = "tapes"\n',
        ),
        ("tox.ini", "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -q\n", "[pytest]\nkylecode_scenarios = scenarios\n"),
    ],
)
def test_the_ini_keys_go_into_the_projects_own_configuration(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = _kylecode(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    written = (tmp_path / name).read_text(encoding="utf-8")
    assert expected in written
    assert written.count("kylecode_cassettes") == 1  # a key already set is left as it is
    assert not (tmp_path / "pytest.ini").exists()
