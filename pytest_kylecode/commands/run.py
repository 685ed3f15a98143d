"""``kylecode run CONFIG --task FILE [--workspace DIR] [--max-steps N] [--base-url URL] [--runs DIR]``.

One agent run against the live providers (or whatever ``--base-url`` /
``KYLECODE_<PROVIDER>_BASE_URL`` points at). CONFIG is YAML with ``route``, an
optional ``extends`` and the keys of a scenario's ``agent:`` section. The run
directory is always written (under ``--runs``, default the project's ``kylecode_runs``, ``.kylecode/runs``); its
path and the outcome are printed. Exit status: 0 completed, 1 any other outcome,
2 a usage or config error (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "run the agent once on a task (CONFIG: route, optional extends, agent keys); writes a run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", type=Path, help="agent config YAML (route: provider/model, ...)")
    parser.add_argument("--task", required=True, metavar="FILE", type=Path, help="file holding the task text")
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        type=Path,
        default=Path("."),
        help="directory the agent works in (default: the current directory)",
    )
    parser.add_argument("--max-steps", type=int, metavar="N", default=None, help="override max_steps")
    parser.add_argument(
        "--base-url",
        metavar="URL",
        default=None,
        help="base URL of the primary route's provider (e.g. http://127.0.0.1:8080/v1)",
    )
    parser.add_argument(
        "--runs",
        metavar="DIR",
        type=Path,
        default=None,
        help="where the run directory is written (default: the project's, ini kylecode_runs: .kylecode/runs)",
    )


def _error(message: str) -> int:
    print(f"kylecode run: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import httpx

    from agent_runtime.config import load_agent_config
    from agent_runtime.errors import KylecodeError
    from agent_runtime.providers import parse_route
    from agent_runtime.runner import run_agent
    from pytest_kylecode.project import find_project

    config_path: Path = args.config
    task_path: Path = args.task
    workspace: Path = args.workspace
    max_steps: int | None = args.max_steps
    base_url: str | None = args.base_url
    runs: Path = args.runs or find_project().runs
    try:
        config = load_agent_config(config_path)
        route = config.route
        if not route:
            return _error(f"{config_path}: no route: add 'route: provider/model'")
        if max_steps is not None:
            if max_steps < 1:
                return _error(f"--max-steps must be >= 1, got {max_steps}")
            config = config.with_overrides(max_steps=max_steps)
        task = task_path.read_text(encoding="utf-8")
        if not workspace.is_dir():
            return _error(f"--workspace {workspace}: not a directory")
        env = dict(os.environ)
        if base_url is not None:
            if not base_url.startswith(("http://", "https://")):
                return _error(f"--base-url must start with http:// or https://, got {base_url!r}")
            env[parse_route(route).provider.base_url_env] = base_url
        with httpx.Client() as http:
            result = run_agent(config, task, workspace, http=http, env=env)
        assert result.runlog is not None
        run_dir = result.runlog.write(runs, config_path.stem, route, env=env)
    except KylecodeError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    how = result.completion_reason if result.outcome == "completed" else result.error_category
    detail = f" ({how})" if how else ""
    print(f"run dir: {run_dir}")
    print(f"outcome: {result.outcome}{detail}; steps: {result.steps}; final route: {result.final_route}")
    if result.outcome != "completed" and result.error_message:
        from agent_runtime.observe.redact import redact_text

        print(f"reason: {redact_text(result.error_message, env)}")
    return 0 if result.outcome == "completed" else 1
