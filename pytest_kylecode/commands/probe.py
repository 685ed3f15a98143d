"""``kylecode probe CONFIG [-o report.json]``: the preflight of a config.

Checks the API key of, and probes (stream, tools with a real tool, JSON), every
route the runtime could reach, resolved by the runtime's own
``failover.resolve_routes``. Prints the JSON report (or writes it to ``-o`` and
prints one line per check). Exit status: 0 pass or warn, 1 fail, 2 usage or
config error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "preflight: API keys and capability probes (stream, tools, JSON) of every reachable route; JSON report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", type=Path, help="agent config YAML (route: provider/model, ...)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        default=None,
        help="write the JSON report to FILE instead of stdout",
    )


def run(args: argparse.Namespace) -> int:
    from agent_runtime.config import load_agent_config
    from agent_runtime.errors import KylecodeError
    from agent_runtime.observe.redact import redact_json
    from agent_runtime.probes import PreflightReport, preflight

    config_path: Path = args.config
    output: Path | None = args.output
    try:
        config = load_agent_config(config_path)
        if not config.route:
            raise KylecodeError(f"{config_path}: no route: add 'route: provider/model'")
        report: PreflightReport = redact_json(preflight(config))  # the same shape, credentials masked
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
    except (KylecodeError, OSError) as exc:
        print(f"kylecode probe: error: {exc}", file=sys.stderr)
        return 2
    if output is None:
        sys.stdout.write(text)
    else:
        for check in report["checks"]:
            print(f"{check['status']:4}  {check['route']}  {check['check']}: {check['detail']}")
        print(f"{report['status']}: report written to {output}")
    return 1 if report["status"] == "fail" else 0
