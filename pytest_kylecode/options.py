"""The plugin's command-line options and ini keys, and the one function that resolves them.

Precedence is CLI > ini > default, decided in ``resolve_settings`` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

from pytest_kylecode.cassettes.modes import RECORD_MODES, UPSTREAMS, RecordMode, Upstream
from pytest_kylecode.project import INI_DEFAULTS

if TYPE_CHECKING:  # matching is heavy (the wire layers); a session without the matrix never loads it
    from pytest_kylecode.cassettes.matching import MatchRules

# The way in for a user's own test: a marked test runs once per cell, its fixture the cell's context.
MARKER: Final = "kylecode_scenario"
FIXTURE: Final = "kylecode_cell"
MARKER_HELP: Final = (
    f"{MARKER}(path): run the test once per cell of the scenario file at path (relative to "
    f"the test file), with the `{FIXTURE}` fixture as its agent's CellContext"
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("kylecode", "pytest-kylecode: scenario matrices for LLM agent runtimes")
    group.addoption(
        "--kylecode-matrix",
        action="store_true",
        dest="kylecode_matrix",
        help="collect the scenario matrix (without it the plugin collects nothing)",
    )
    group.addoption(
        "--kylecode-scenarios",
        dest="kylecode_scenarios",
        metavar="DIR",
        help="directory of scenario YAML files (ini: kylecode_scenarios; default: scenarios)",
    )
    group.addoption(
        "--kylecode-cassettes",
        dest="kylecode_cassettes",
        metavar="DIR",
        help="directory of cassettes (ini: kylecode_cassettes; default: cassettes)",
    )
    group.addoption(
        "--kylecode-record",
        dest="kylecode_record",
        choices=RECORD_MODES,
        default=None,
        help="cassette record mode (default: none; any other mode is refused when CI is set)",
    )
    group.addoption(
        "--kylecode-allow-record-in-ci",
        action="store_true",
        dest="kylecode_allow_record_in_ci",
        help="allow a recording mode although CI is set",
    )
    group.addoption(
        "--kylecode-record-failed",
        action="store_true",
        dest="kylecode_record_failed",
        help="write the cassette of a recording cell even when the cell fails (by default a failed "
        "recording leaves the existing cassette as it was and creates none)",
    )
    group.addoption(
        "--kylecode-upstream",
        dest="kylecode_upstream",
        choices=UPSTREAMS,
        default=None,
        help="where recordings come from: the provider emulator (default) or the live providers",
    )
    group.addoption(
        "--kylecode-max-live-calls",
        dest="kylecode_max_live_calls",
        type=int,
        default=None,
        metavar="N",
        help="stop after N calls to live providers (default: 200)",
    )
    group.addoption(
        "--kylecode-cell-timeout",
        dest="kylecode_cell_timeout",
        type=float,
        default=None,
        metavar="S",
        help="wall-time bound of one cell in seconds (default: 60)",
    )
    group.addoption(
        "--kylecode-runs",
        dest="kylecode_runs",
        metavar="DIR",
        help="where run directories of failing cells are kept (ini: kylecode_runs; default: .kylecode/runs)",
    )
    group.addoption(
        "--kylecode-keep-runs",
        action="store_true",
        dest="kylecode_keep_runs",
        help="keep the run directory of every cell, not only of failing ones",
    )
    group.addoption(
        "--kylecode-report",
        dest="kylecode_report",
        metavar="DIR",
        help="write report.json, report.md, report.html and summary.md (the PR comment) into DIR",
    )
    group.addoption(
        "--kylecode-baseline",
        dest="kylecode_baseline",
        metavar="PATH",
        help="compare with the report.json of another run (main's): newly failing, newly passing, new and "
        "removed cells and metric changes come first in the terminal summary and the report files",
    )
    group.addoption(
        "--kylecode-allow-hosts",
        dest="kylecode_allow_hosts",
        metavar="HOST[,HOST...]",
        default=None,
        help="hosts a user's agent may still reach while its cell replays (by default only loopback: any "
        "other connection is refused and fails the cell)",
    )
    group.addoption(
        "--kylecode-shard",
        dest="kylecode_shard",
        metavar="I/N",
        help="run only shard I of N (1-based), split deterministically",
    )
    parser.addini("kylecode_scenarios", "directory of scenario YAML files", default=INI_DEFAULTS["kylecode_scenarios"])
    parser.addini("kylecode_cassettes", "directory of cassettes", default=INI_DEFAULTS["kylecode_cassettes"])
    parser.addini("kylecode_runs", "directory for kept run directories", default=INI_DEFAULTS["kylecode_runs"])
    # The scenario key `match:` for every scenario of the project (a scenario's own `match:` adds to it).
    parser.addini(
        "kylecode_match_ignore_body",
        "request body paths replay does not compare (dotted, * for any key or index), one per line",
        type="linelist",
        default=[],
    )
    parser.addini(
        "kylecode_match_ignore_headers",
        "request headers replay does not compare (names or shell patterns), one per line",
        type="linelist",
        default=[],
    )
    parser.addini(
        "kylecode_before_match",
        "package.module:function given each request as replay compares it (MatchRequest), returning it",
        default="",
    )


def _default_match_rules() -> MatchRules:
    from pytest_kylecode.cassettes.matching import MatchRules

    return MatchRules.defaults()


@dataclass(frozen=True, slots=True)
class Settings:
    scenarios: Path
    cassettes: Path
    runs: Path
    record: RecordMode
    upstream: Upstream
    max_live_calls: int
    cell_timeout: float
    keep_runs: bool
    report: Path | None
    shard: tuple[int, int] | None
    rootdir: Path
    record_failed: bool = False
    baseline: Path | None = None
    match: MatchRules = field(default_factory=_default_match_rules)  # defaults and ini; scenarios add theirs
    allow_hosts: tuple[str, ...] = ()  # reachable beyond loopback while a byo cell replays


def _path(value: str, rootdir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (rootdir / path)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--kylecode-shard expects I/N such as 1/4, got {text!r}") from None
    if not (total >= 1 and 1 <= index <= total):
        raise pytest.UsageError(f"--kylecode-shard {text}: I must be between 1 and N (N >= 1)")
    return index, total


def resolve_settings(config: pytest.Config, env: dict[str, str] | None = None) -> Settings:
    """CLI > ini > default, and the CI guard: recording is refused when CI is set."""
    env = dict(os.environ) if env is None else env
    opt = config.option
    rootdir = Path(config.rootpath)
    # ini paths are relative to the ini file's directory (rootdir); CLI paths to the invocation dir.
    invocation = Path(config.invocation_params.dir)

    def pick(cli: str | None, ini_name: str) -> Path:
        return _path(cli, invocation) if cli else _path(str(config.getini(ini_name)), rootdir)

    record: RecordMode = opt.kylecode_record or "none"
    if env.get("CI") and record not in ("none", "off") and not opt.kylecode_allow_record_in_ci:
        raise pytest.UsageError(
            f"--kylecode-record={record} is refused because CI is set: CI replays cassettes and never records. "
            "Re-record on a workstation, or pass --kylecode-allow-record-in-ci on purpose."
        )
    upstream: Upstream = opt.kylecode_upstream or "emulator"
    if upstream == "live" and env.get("CI") and not opt.kylecode_allow_record_in_ci:
        raise pytest.UsageError(
            "--kylecode-upstream=live is refused because CI is set; pass --kylecode-allow-record-in-ci on purpose."
        )
    max_live = opt.kylecode_max_live_calls if opt.kylecode_max_live_calls is not None else 200
    if max_live < 0:
        raise pytest.UsageError(f"--kylecode-max-live-calls must be >= 0, got {max_live}")
    timeout = opt.kylecode_cell_timeout if opt.kylecode_cell_timeout is not None else 60.0
    if timeout <= 0:
        raise pytest.UsageError(f"--kylecode-cell-timeout must be > 0, got {timeout}")
    return Settings(
        match=match_settings(config),
        allow_hosts=tuple(h.strip() for h in (opt.kylecode_allow_hosts or "").split(",") if h.strip()),
        scenarios=pick(opt.kylecode_scenarios, "kylecode_scenarios"),
        cassettes=pick(opt.kylecode_cassettes, "kylecode_cassettes"),
        runs=pick(opt.kylecode_runs, "kylecode_runs"),
        record=record,
        upstream=upstream,
        max_live_calls=max_live,
        cell_timeout=timeout,
        keep_runs=bool(opt.kylecode_keep_runs),
        report=_path(opt.kylecode_report, invocation) if opt.kylecode_report else None,
        shard=parse_shard(opt.kylecode_shard) if opt.kylecode_shard else None,
        rootdir=rootdir,
        record_failed=bool(opt.kylecode_record_failed),
        baseline=_path(opt.kylecode_baseline, invocation) if opt.kylecode_baseline else None,
    )


def match_settings(config: pytest.Config) -> MatchRules:
    """The shipped match defaults with the ``kylecode_match_*`` ini keys added (checked as a
    scenario's ``match:`` is)."""
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.cassettes.matching import MatchRules, parse_match_rules

    ini_names = {
        "ignore_body": "kylecode_match_ignore_body",
        "ignore_headers": "kylecode_match_ignore_headers",
        "before_match": "kylecode_before_match",
    }
    written: dict[str, object] = {
        "ignore_body": list(config.getini(ini_names["ignore_body"])),
        "ignore_headers": list(config.getini(ini_names["ignore_headers"])),
    }
    hook = str(config.getini(ini_names["before_match"])).strip()
    if hook:
        written["before_match"] = hook
    where = str(config.inipath or "the ini file")
    try:
        rules = parse_match_rules(
            written,
            lambda keypath: where,
            lambda keypath: " entry ".join([ini_names[str(keypath[0])], *(str(int(str(k)) + 1) for k in keypath[1:])]),
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return MatchRules.defaults().extended(rules)
