"""Replaying one of the example projects under examples/ the way a user does: pytest in its own
directory, offline (``CI=true``), run directories and the report kept under a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def replay_example(
    project: Path, tmp_path: Path, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """``pytest --kylecode-matrix ARGS`` in ``project``; ``tmp_path/runs`` and ``tmp_path/report``."""
    environment = {**os.environ, "CI": "true", **env}
    environment.pop("KYLECODE_TELEMETRY_PATH", None)  # the suite's own telemetry is no example's
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--kylecode-matrix",
            "--kylecode-runs",
            str(tmp_path / "runs"),
            "--kylecode-report",
            str(tmp_path / "report"),
            *args,
        ],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
