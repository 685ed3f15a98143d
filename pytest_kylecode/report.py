"""The matrix report: one row per cell, aggregated from test reports.

Rows are built from ``TestReport.user_properties`` (the cell's axes are put
there at collection, the run's details during the call), so the same code
works in one process and on the xdist controller. Rendered as a terminal table
(scenario x provider rows, fault columns), ``report.json`` and ``report.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from agent_runtime.messages import JSONObject

PASSING = ("passed", "xfailed")


@dataclass(slots=True)
class Row:
    nodeid: str
    scenario: str
    provider: str
    streaming: bool
    tools: str
    fault: str
    cell: str
    outcome: str = "not run"
    duration_s: float = 0.0
    message: str = ""
    details: JSONObject = field(default_factory=dict)


def _outcome(report: pytest.TestReport, previous: str) -> str | None:
    """The cell outcome a report establishes, or None if it changes nothing."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        return "skipped" if report.skipped else ("error" if report.failed else None)
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "failed"
    if report.failed and previous in ("passed", "xpassed"):
        return "error"  # teardown failed
    return None


class MatrixReport:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def add(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        key = props.get("kylecode_cell")
        if not isinstance(key, dict):  # not a cell's report (the cell's axes, put there at collection)
            return
        row = self.rows.get(report.nodeid)
        if row is None:
            row = self.rows[report.nodeid] = Row(nodeid=report.nodeid, **key)
        outcome = _outcome(report, row.outcome)
        if outcome is not None:
            row.outcome = outcome
            if report.failed or report.skipped:
                row.message = _short_message(report)
        row.duration_s += report.duration
        # Details quote what the run did (an error message may quote a tool call's arguments); they
        # reach the terminal, report.json and CI summaries, so they are redacted like every artifact.
        details = props.get("kylecode_run")
        if details:
            from agent_runtime.observe.redact import redact_json

            row.details.update(redact_json(details))

    # -- aggregation --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"cells": len(self.rows)}
        for row in self.rows.values():
            counts[row.outcome] = counts.get(row.outcome, 0) + 1
        return counts

    def by_scenario(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {}
        for row in self.rows.values():
            grouped.setdefault(row.scenario, []).append(row)
        return dict(sorted(grouped.items()))

    def table(self, rows: list[Row]) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
        """Fault columns (first-seen order) and per-provider cells like ``4/4`` or ``3/4 FAIL``."""
        faults = list(dict.fromkeys(row.fault for row in rows))
        providers = list(dict.fromkeys(row.provider for row in rows))
        table = []
        for provider in providers:
            cells: dict[str, str] = {}
            for fault in faults:
                group = [r for r in rows if r.provider == provider and r.fault == fault]
                cells[fault] = _summarize(group)
            table.append((provider, cells))
        return faults, table

    # -- rendering ----------------------------------------------------------------------------

    def render_terminal(self) -> str:
        lines = []
        for scenario, rows in self.by_scenario().items():
            faults, table = self.table(rows)
            lines.extend(_grid([scenario, *faults], [[p, *(c[f] for f in faults)] for p, c in table]))
            lines.append("")
        lines.append(_summary_line(self.counts()))
        failing = [r for r in self.rows.values() if r.outcome in ("failed", "error", "xpassed")]
        for row in failing:
            where = f"  (run dir: {row.details['run_dir']})" if row.details.get("run_dir") else ""
            lines.append(f"FAILED {row.nodeid}{where}")
        return "\n".join(lines)

    def to_json(self, not_applicable: dict[str, list[str]] | None = None) -> JSONObject:
        counts = self.counts()
        na = not_applicable or {}
        counts["not_applicable"] = sum(len(v) for v in na.values())
        scenarios: JSONObject = {}
        for scenario, rows in self.by_scenario().items():
            faults, table = self.table(rows)
            scenarios[scenario] = {
                "faults": faults,
                "providers": {provider: cells for provider, cells in table},
                "not_applicable": na.get(scenario, []),
            }
        return {
            "schema": 1,
            "summary": counts,
            "scenarios": scenarios,
            "cells": [asdict(row) for row in sorted(self.rows.values(), key=lambda r: r.nodeid)],
        }

    def to_markdown(self, data: JSONObject) -> str:
        s = data["summary"]
        out = ["# kylecode matrix", "", _summary_line(s), ""]
        for scenario, info in data["scenarios"].items():
            faults = info["faults"]
            out.append(f"## {scenario}")
            out.append("")
            out.append("| provider | " + " | ".join(f"`{f}`" for f in faults) + " |")
            out.append("|---|" + "---|" * len(faults))
            for provider, cells in info["providers"].items():
                out.append(f"| `{provider}` | " + " | ".join(cells[f] for f in faults) + " |")
            if info["not_applicable"]:
                out.append("")
                count = len(info["not_applicable"])
                out.append(f"{count} combinations not applicable (fault needs streaming or native tools).")
            out.append("")
        failing = [c for c in data["cells"] if c["outcome"] in ("failed", "error", "xpassed")]
        if failing:
            out.append("## Failing cells")
            out.append("")
            for cell in failing:
                out.append(f"### `{cell['nodeid']}`")
                if cell["details"].get("run_dir"):
                    out.append(f"run directory: `{cell['details']['run_dir']}`")
                out.append("")
                out.append("```")
                out.append(cell["message"][:4000])
                out.append("```")
                out.append("")
        return "\n".join(out)

    def write(self, directory: Path, *, scenarios_dir: Path) -> None:
        data = self.to_json(_not_applicable(scenarios_dir, set(self.by_scenario())))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (directory / "report.md").write_text(self.to_markdown(data), encoding="utf-8")


def _not_applicable(scenarios_dir: Path, names: set[str]) -> dict[str, list[str]]:
    """Combinations the fault catalog rules out, recomputed from the scenario files (the xdist
    controller collects nothing itself)."""
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.scenarios.files import scenario_files
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    result: dict[str, list[str]] = {}
    try:
        files = scenario_files(scenarios_dir)
    except ConfigError:
        return result
    for path in files:
        try:
            scenario = load_scenario(path)
        except ConfigError:
            continue
        if scenario.name in names:
            result[scenario.name] = list(expand(scenario).not_applicable)
    return result


def _summarize(group: list[Row]) -> str:
    if not group:
        return "n/a"
    ran = [r for r in group if r.outcome != "skipped"]
    if not ran:
        return "skip"
    good = sum(1 for r in ran if r.outcome in PASSING)
    bad = any(r.outcome in ("failed", "error", "xpassed") for r in ran)
    return f"{good}/{len(ran)}" + (" FAIL" if bad else "")


def _summary_line(counts: dict[str, int]) -> str:
    parts = [
        f"{counts.get(k, 0)} {k}"
        for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        if counts.get(k)
    ]
    tail = f"; {counts['not_applicable']} not applicable" if counts.get("not_applicable") else ""
    return f"{counts.get('cells', 0)} cells: " + (", ".join(parts) or "none ran") + tail


def _short_message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    text = report.longreprtext.strip()
    first, _, rest = text.partition("\n")
    if first.startswith("[gw") and " -- Python " in first:
        text = rest  # xdist's "[gw0] linux -- Python ..." banner: the same message must read the same
    return text[-4000:]


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()

    return [fmt(header), *(fmt(r) for r in rows)]
