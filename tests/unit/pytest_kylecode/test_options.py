"""``resolve_settings``: CLI > ini > default, each path from where it was written, and the CI guard.

Every config is pytest's own, parsed from a command line in a temporary project with the plugin
loaded by ``-p`` (no other plugin: parsing stays cheap); no session runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _pytest.config import _prepareconfig

from pytest_kylecode.options import parse_shard, resolve_settings

Parse = Callable[..., pytest.Config]


@pytest.fixture
def parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Parse]:
    """``parse(*args, ini="", cwd=project)``: the config of ``pytest ARGS`` run in ``cwd``."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    configs: list[pytest.Config] = []

    def parse(*args: str, ini: str = "", cwd: Path = tmp_path) -> pytest.Config:
        (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini, encoding="utf-8")
        cwd.mkdir(parents=True, exist_ok=True)
        monkeypatch.chdir(cwd)
        # plain asserts: no import hook is installed into this process for a config that never runs
        config = _prepareconfig([*args, "-p", "pytest_kylecode.plugin", "--assert=plain", "-p", "no:cacheprovider"])
        configs.append(config)
        return config

    yield parse
    for config in configs:
        config._ensure_unconfigure()


def test_defaults(parse: Parse, tmp_path: Path) -> None:
    settings = resolve_settings(parse(), env={})
    assert (settings.scenarios, settings.cassettes, settings.runs) == (
        tmp_path / "scenarios",
        tmp_path / "cassettes",
        tmp_path / ".kylecode/runs",
    )
    assert (settings.record, settings.upstream, settings.max_live_calls, settings.cell_timeout) == (
        "none",
        "emulator",
        200,
        60.0,
    )
    assert (settings.report, settings.shard, settings.keep_runs, settings.record_failed) == (None, None, False, False)
    assert settings.rootdir == tmp_path


def test_ini_paths_are_relative_to_the_rootdir_and_cli_paths_to_where_pytest_runs(parse: Parse, tmp_path: Path) -> None:
    ini = "kylecode_scenarios = ini-scenarios\nkylecode_cassettes = ini-cassettes\nkylecode_runs = /abs/runs\n"
    sub = tmp_path / "sub"
    settings = resolve_settings(parse(ini=ini, cwd=sub), env={})
    assert (settings.scenarios, settings.cassettes, settings.runs) == (
        tmp_path / "ini-scenarios",
        tmp_path / "ini-cassettes",
        Path("/abs/runs"),
    )
    config = parse("--kylecode-scenarios=cli-scenarios", "--kylecode-report=out", ini=ini, cwd=sub)
    settings = resolve_settings(config, env={})
    assert settings.scenarios == sub / "cli-scenarios"  # the CLI wins over the ini
    assert settings.cassettes == tmp_path / "ini-cassettes"  # and the ini over the default
    assert settings.report == sub / "out"


def test_every_option_reaches_the_settings(parse: Parse) -> None:
    config = parse(
        "--kylecode-record=new_episodes",
        "--kylecode-upstream=live",
        "--kylecode-max-live-calls=7",
        "--kylecode-cell-timeout=2.5",
        "--kylecode-keep-runs",
        "--kylecode-record-failed",
        "--kylecode-shard=2/3",
    )
    settings = resolve_settings(config, env={})
    assert (settings.record, settings.upstream, settings.max_live_calls, settings.cell_timeout) == (
        "new_episodes",
        "live",
        7,
        2.5,
    )
    assert (settings.keep_runs, settings.record_failed, settings.shard) == (True, True, (2, 3))


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (("--kylecode-record=all",), "--kylecode-record=all is refused because CI is set"),
        (("--kylecode-record=once",), "--kylecode-record=once is refused because CI is set"),
        (("--kylecode-upstream=live",), "--kylecode-upstream=live is refused because CI is set"),
    ],
    ids=["record-all", "record-once", "upstream-live"],
)
def test_ci_refuses_recording_unless_allowed(parse: Parse, args: tuple[str, ...], refused: str) -> None:
    with pytest.raises(pytest.UsageError, match=refused):
        resolve_settings(parse(*args), env={"CI": "true"})
    allowed = resolve_settings(parse(*args, "--kylecode-allow-record-in-ci"), env={"CI": "true"})
    assert (allowed.record, allowed.upstream) != ("none", "emulator")
    resolve_settings(parse(*args), env={})  # no CI, no refusal


@pytest.mark.parametrize("record", ["none", "off"])
def test_ci_allows_what_records_nothing(parse: Parse, record: str) -> None:
    assert resolve_settings(parse(f"--kylecode-record={record}"), env={"CI": "1"}).record == record


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("--kylecode-max-live-calls=-1", "--kylecode-max-live-calls must be >= 0, got -1"),
        ("--kylecode-cell-timeout=0", "--kylecode-cell-timeout must be > 0, got 0.0"),
        ("--kylecode-shard=0/2", "--kylecode-shard 0/2: I must be between 1 and N"),
        ("--kylecode-shard=half", "--kylecode-shard expects I/N such as 1/4, got 'half'"),
    ],
    ids=["max-live-calls", "cell-timeout", "shard-range", "shard-shape"],
)
def test_values_out_of_range_are_usage_errors(parse: Parse, arg: str, message: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        resolve_settings(parse(arg), env={})
    assert message in str(info.value)


def test_shards() -> None:
    assert parse_shard("1/1") == (1, 1) and parse_shard("4/4") == (4, 4)
    with pytest.raises(pytest.UsageError):
        parse_shard("2/1")
