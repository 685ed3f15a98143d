"""``kylecode report merge -o DIR REPORT...``: the report of the shards of one matrix run.

Reads each shard's ``report.json`` (or the directory holding it), and writes into DIR the four
report files of the whole run, as ``--kylecode-report`` does for one session, compared with
``--baseline PATH`` when given. Exit status 0, or 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "merge the report.json of several shards into one report (report.json, report.md, report.html, summary.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    merge = sub.add_parser("merge", help=HELP, description=HELP)
    merge.add_argument("reports", metavar="REPORT", type=Path, nargs="+", help="a report.json, or its directory")
    merge.add_argument("-o", "--output", metavar="DIR", type=Path, required=True, help="where to write the report")
    merge.add_argument("--baseline", metavar="PATH", type=Path, default=None, help="another run's report.json")


def run(args: argparse.Namespace) -> int:
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.project import find_project
    from pytest_kylecode.report.baseline import compare, load_baseline
    from pytest_kylecode.report.document import census
    from pytest_kylecode.report.files import write_report
    from pytest_kylecode.report.merge import merge

    reports: list[Path] = args.reports
    output: Path = args.output
    baseline_path: Path | None = args.baseline
    project = find_project()
    try:
        report = merge(reports)
        comparison = None
        if baseline_path is not None:
            defined = census(project.scenarios, project.root, set()).nodeids
            comparison = compare(load_baseline(baseline_path), report, source=str(baseline_path), defined=defined)
        data = write_report(
            report, output, scenarios_dir=project.scenarios, rootdir=project.root, comparison=comparison
        )
    except (ConfigError, OSError) as exc:
        print(f"kylecode report: error: {exc}", file=sys.stderr)
        return 2
    from pytest_kylecode.report.collect import summary_line

    print(f"{output}: {summary_line(data['summary'])}")
    return 0
