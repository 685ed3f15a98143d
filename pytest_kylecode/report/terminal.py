"""The matrix in the terminal summary: the comparison with the baseline first, then one table per
scenario (provider rows, fault columns in the scenario's order), then the cells to look at."""

from __future__ import annotations

from typing import Final

from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.collect import MatrixReport, summary_line

# A comparison can list every cell (a latency change everywhere): the terminal shows the first
# ones of each list, report.md and report.html show them all.
LIMIT: Final = 20


def render(report: MatrixReport, comparison: Comparison | None = None) -> str:
    lines = comparison_lines(comparison) if comparison is not None else []
    for scenario, rows in report.by_scenario().items():
        faults, table = report.table(rows)
        lines.extend(_grid([scenario, *faults], [[p, *(c[f] for f in faults)] for p, c in table]))
        lines.append("")
    lines.append(summary_line(report.counts()))
    for row in report.failing():
        where = f"  (run dir: {row.details['run_dir']})" if row.details.get("run_dir") else ""
        lines.append(f"FAILED {row.nodeid}{where}")
    for row in report.unexpected_passes():
        lines.append(f"XPASS {row.nodeid}  ({row.message})")
    return "\n".join(lines)


def comparison_lines(comparison: Comparison) -> list[str]:
    lines = [f"kylecode: {comparison.headline()}"]
    for label, nodeids in (
        ("NEWLY FAILING", comparison.newly_failing),
        ("newly passing", comparison.newly_passing),
        ("new", comparison.new),
        ("removed", comparison.removed),
    ):
        lines.extend(f"  {label} {nodeid}" for nodeid in nodeids[:LIMIT])
        if len(nodeids) > LIMIT:
            lines.append(f"  ... {len(nodeids) - LIMIT} more {label} cells (see report.md)")
    by_cell: dict[str, list[str]] = {}
    for delta in comparison.deltas:
        by_cell.setdefault(delta.nodeid, []).append(delta.text())
    for nodeid, texts in list(by_cell.items())[:LIMIT]:
        lines.append(f"  metrics {nodeid}: {', '.join(texts)}")
    if len(by_cell) > LIMIT:
        lines.append(f"  ... {len(by_cell) - LIMIT} more cells with metric changes (see report.md)")
    lines.append("")
    return lines


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()

    return [fmt(header), *(fmt(r) for r in rows)]
