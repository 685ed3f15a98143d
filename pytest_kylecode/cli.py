"""The ``kylecode`` command: one subcommand per module in ``pytest_kylecode.commands``.

Paths the user does not give (the scenario, cassette and run directories) are the ini keys of the
project the current directory belongs to (``project.find_project``), so every command works the
same from any subdirectory.

Each command module is a ``Command``: ``HELP`` (one line), ``add_arguments(parser)`` (cheap: no
heavy imports; the modules import their machinery when they run) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from pytest_kylecode.commands import bundle, cassettes, emulate, init, inspect, metrics, probe, report, run, scenarios
from pytest_kylecode.project import ProjectError


class Command(Protocol):
    """What a module of ``pytest_kylecode.commands`` provides (the module itself is the command)."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: dict[str, Command] = {
    "run": run,
    "inspect": inspect,
    "emulate": emulate,
    "scenarios": scenarios,
    "cassettes": cassettes,
    "probe": probe,
    "metrics": metrics,
    "bundle": bundle,
    "report": report,
    "init": init,
}


def build_parser() -> argparse.ArgumentParser:
    from pytest_kylecode import __version__

    parser = argparse.ArgumentParser(prog="kylecode", description="pytest-kylecode: agent runtime regression harness")
    parser.add_argument("--version", action="version", version=f"kylecode (pytest-kylecode) {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP, description=command.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: str = args.command
    try:
        return COMMANDS[command].run(args)
    except ProjectError as exc:  # a configuration file of the project that cannot be read
        print(f"kylecode {command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `kylecode ... | head`: the reader left; nothing is wrong, no traceback
        import os

        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's exit flush quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
