"""Every command README.md shows is exercised.

The shell commands of the README's ``bash`` blocks are taken out with ``shellwords``. The cheap
ones run for real, in order, in a temporary copy of the project (scenarios, cassettes, ci/), the
README's example scenario written where its block says. The others (installing, the full matrix,
the test suite, a loopback server, live recording) must appear in a command that CI runs (.ci/run,
ci/workflows/*.yml) or in a test that runs them, with every option they use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from shellwords import Command, commands, fenced_blocks

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_LINES = """\
# pytest-kylecode

```bash
pip install -e '.[dev]' && pytest --kylecode-matrix -n auto   # run the shipped scenario matrix (offline, from cassettes)
pip install -e '.[dev]' && pytest -n auto                     # run the test suite
```
"""  # noqa: E501 (README's own first lines, verbatim)


def _strip_env(command: Command) -> Command:
    """``env -u CI X=1 pytest ...`` -> ``pytest ...`` (the environment is not the command)."""
    argv = list(command.argv)
    while argv and (argv[0] == "env" or re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0])):
        if argv[0] == "env":
            argv.pop(0)
            while argv and argv[0] == "-u":
                argv[:2] = []
        else:
            argv.pop(0)
    if argv[:3] == ["python", "-m", "pytest"] or argv[:3] == ["python", "-m", "pip"]:
        argv = argv[2:]
    if argv and argv[0] == "run_pytest":  # .ci/run's wrapper
        argv = _strip_env(Command(tuple(argv[1:]))).argv and list(_strip_env(Command(tuple(argv[1:]))).argv)
    return Command(tuple(argv), command.redirects)


def _options(command: Command) -> set[str]:
    return {word.split("=", 1)[0] for word in command.argv[1:] if word.startswith("-")}


def _words(command: Command) -> list[str]:
    """The subcommand words: positional words before the first option (``kylecode cassettes check``)."""
    out = []
    for word in command.argv[1:]:
        if word.startswith("-"):
            break
        out.append(word)
    return out


def _is_expensive(command: Command) -> bool:
    """Installing, whole suites, servers and the live upstream are checked against CI and tests."""
    argv = command.argv
    if command.program == "pip":
        return True
    if command.program == "kylecode" and _words(command)[:1] == ["emulate"]:
        return True
    if any(word.startswith("--kylecode-upstream=live") for word in argv):
        return True
    if command.program == "pytest":
        selective = "-k" in argv or any("::" in word for word in argv)
        return "--kylecode-matrix" not in argv or not selective
    return False


def _ci_commands() -> list[Command]:
    found = [_strip_env(c) for c in commands((ROOT / ".ci" / "run").read_text(encoding="utf-8"))]
    for path in sorted((ROOT / "ci" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    found += [_strip_env(c) for c in commands(step["run"])]
    return found


def _test_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for path in (ROOT / "tests").rglob("*.py")
        if path.name != Path(__file__).name
    }


def _exercised_elsewhere(command: Command) -> str | None:
    """Where ``command`` (program, subcommand and every option) runs, or None."""
    for other in _ci_commands():
        if (
            other.argv
            and other.program == command.program
            and _words(other)[:2] == _words(command)[:2]
            and _options(command) <= _options(other)
        ):
            return f"CI: {other.normalized()}"
    if command.program in ("pytest", "kylecode"):
        for path, text in _test_sources().items():
            runs = "subprocess" in text or "pytester" in text
            words = [f'"{w}"' for w in _words(command)[:1]] if command.program == "kylecode" else []
            if runs and all(w in text for w in words) and all(o in text for o in _options(command)):
                return f"test: {path.relative_to(ROOT)}"
    return None


def _readme_lines() -> list[tuple[int, str]]:
    """``(line number, shell line)`` of every bash block, in order, continuations joined."""
    out = []
    for start, block in fenced_blocks(README):
        for offset, line in enumerate(block.replace("\\\n", " ").splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                out.append((start + offset, line))
    return out


def test_readme_opens_with_the_two_commands() -> None:
    assert README.startswith(FIRST_LINES)


def test_ci_runs_the_readme_commands() -> None:
    """``.ci/run`` runs the README's test command, and the matrix command."""
    ci = [c.argv for c in _ci_commands()]
    assert ("pytest", "-n", "auto", "-q") in ci
    assert ("pytest", "--kylecode-matrix", "-n", "auto", "-q") in ci


def test_performance_section_exists() -> None:
    assert re.search(r"^## Performance$", README, flags=re.M)
    assert "(see [Performance](#performance))" in " ".join(README.split())


@pytest.mark.parametrize(
    ("line_no", "line"),
    [
        pytest.param(n, line, id=f"README.md:{n}")
        for n, line in _readme_lines()
        if any(_is_expensive(_strip_env(c)) for c in commands(line))
    ],
)
def test_expensive_readme_commands_run_in_ci_or_tests(line_no: int, line: str) -> None:
    for command in commands(line):
        command = _strip_env(command)
        assert _exercised_elsewhere(command), f"README.md:{line_no}: nothing runs {command.normalized()!r}"


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's data in a temporary directory, plus the README's example scenario."""
    copy = tmp_path_factory.mktemp("readme") / "project"
    copy.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for name in ("scenarios", "cassettes", "ci"):
        shutil.copytree(ROOT / name, copy / name)
    (copy / "tests").mkdir()  # pyproject's testpaths; the matrix never collects it
    [example] = [block for _, block in fenced_blocks(README, "yaml") if block.startswith("# scenarios/")]
    target = example.splitlines()[0].removeprefix("# ").strip()
    (copy / target).write_text(example, encoding="utf-8")
    return copy


def test_cheap_readme_commands_run(project_copy: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(("PYTEST_", "KYLECODE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ran = 0
    for line_no, line in _readme_lines():
        if any(_is_expensive(_strip_env(c)) for c in commands(line)):
            continue
        result = subprocess.run(
            ["bash", "-c", line], cwd=project_copy, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"README.md:{line_no}: {line}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        ran += 1
    assert ran >= 8
    # What those commands promise: the example was recorded and replays, the bundle exists,
    # the workflows were installed.
    # 25 cells, 2 of them skipped by the example's last override: those record nothing.
    assert len(list((project_copy / "cassettes" / "hello_files").rglob("*.yaml"))) == 23
    assert list((project_copy / ".kylecode" / "runs").glob("*.zip"))
    assert (project_copy / ".github" / "workflows" / "matrix.yml").is_file()
