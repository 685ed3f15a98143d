"""``kylecode scenarios schema`` (the shipped JSON Schema on stdout) and ``validate`` without a path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_schema_command_prints_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "scenarios", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["title"] == "pytest-kylecode scenario"


VALID = """\
name: hello
task: List the workspace, then finish.
workspace: {README.md: "# demo\\n"}
script:
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix: {provider: [openai/gpt-4o-mini], streaming: [true, false], tools: [native], fault: [none]}
"""


def test_validate_without_a_path_reads_the_ini_directory_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nkylecode_scenarios = "specs"\n')
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "hello.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "scenarios").mkdir()  # the default directory, which the ini overrides
    (tmp_path / "scenarios" / "broken.yaml").write_text("name: [\n", encoding="utf-8")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "scenarios", "validate"],
        cwd=tmp_path / "src" / "deep",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok      ") and lines[0].endswith("specs/hello.yaml: hello: 2 cells")
    assert lines[-1] == "1 valid, 0 invalid scenario files; 2 cells"
