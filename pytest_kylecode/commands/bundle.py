"""``kylecode bundle RUN_DIR [-o ZIP]``: a redacted vendor bundle of one run directory.

Probes, requests, metrics, raw excerpts, errors, transcript and a manifest (size
and SHA-256 of every file); redacted again on the way in; symlinks and paths
outside RUN_DIR are refused. Prints the zip's path. Exit status 0, or 2 with one
line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "pack a run directory into a redacted vendor bundle zip (with a manifest); nothing from outside RUN_DIR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory written by a run")
    parser.add_argument(
        "-o",
        "--output",
        metavar="ZIP",
        type=Path,
        default=None,
        help="where to write the zip (default: RUN_DIR.zip beside the run directory)",
    )


def run(args: argparse.Namespace) -> int:
    from agent_runtime.errors import KylecodeError
    from agent_runtime.observe.bundle import build_bundle

    run_dir: Path = args.run_dir
    output: Path | None = args.output
    try:
        path = build_bundle(run_dir, output)
    except (KylecodeError, OSError) as exc:
        print(f"kylecode bundle: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
