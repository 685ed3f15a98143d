"""``kylecode`` itself: the version, and a broken project configuration as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kylecode import __version__
from pytest_kylecode.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kylecode (pytest-kylecode) {__version__}"


def test_an_unreadable_project_configuration_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tox.ini").write_text("[pytest\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios", "validate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kylecode scenarios: error: ") and "tox.ini: cannot read it as an ini file" in err
    assert len(err.splitlines()) == 1
