"""The ``kylecode`` command: one subcommand per module in ``pytest_kylecode.commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` (cheap: no
heavy imports) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> module under pytest_kylecode.commands
COMMANDS = {
    "run": "run",
    "inspect": "inspect",
    "emulate": "emulate",
    "scenarios": "scenarios",
    "cassettes": "cassettes",
    "probe": "probe",
    "metrics": "metrics",
    "bundle": "bundle",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kylecode", description="pytest-kylecode: agent runtime regression harness")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"pytest_kylecode.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # `kylecode ... | head`: the reader left; nothing is wrong, no traceback
        import os

        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's exit flush quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
