"""``kylecode scenarios schema``: the shipped JSON Schema on stdout."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_schema_command_prints_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "scenarios", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["title"] == "pytest-kylecode scenario"
