"""The matrix report's rows: one per cell, aggregated from pytest's test reports.

Rows are built from ``TestReport.user_properties`` (the cell's axes are put there at collection,
the run's details during the call), so the same code works in one process and on the xdist
controller. Rows carry the rank of their provider and fault in the scenario's matrix, so every
rendering orders columns as the scenario does, whatever order the workers finished in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent_runtime.messages import JSONObject

# Outcomes that count as a cell behaving as the scenario says (an unexpected pass is not a failure:
# pytest's run is green; a strict xfail that passed is reported by pytest as failed).
PASSING = ("passed", "xfailed", "xpassed")
FAILING = ("failed", "error")
# The details that name a file: shown relative to the project root in every report file.
PATH_DETAILS = ("run_dir", "cassette_changed", "cassette_kept")


@dataclass(slots=True)
class Row:
    nodeid: str
    scenario: str
    provider: str
    streaming: bool
    tools: str
    fault: str
    cell: str
    provider_rank: int = 0
    fault_rank: int = 0
    outcome: str = "not run"
    duration_s: float = 0.0
    message: str = ""
    metrics: JSONObject = field(default_factory=dict)
    transcript: list[JSONObject] = field(default_factory=list)
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
        return "failed"  # a strict xfail that passed too: pytest fails it ("[XPASS(strict)]")
    if report.failed and previous in ("passed", "xpassed"):
        return "error"  # teardown failed
    return None


class MatrixReport:
    """``rootdir``: paths under it are kept relative to it (report files travel to CI and PRs)."""

    def __init__(self, rootdir: Path | None = None) -> None:
        self.rows: dict[str, Row] = {}
        self._prefix = f"{rootdir}{os.sep}" if rootdir is not None else None

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
            if report.failed or report.skipped or outcome == "xpassed":
                row.message = self._relative(_short_message(report))
        row.duration_s += report.duration
        # Details quote what the run did (an error message may quote a tool call's arguments); they
        # reach the terminal, report files and CI summaries, so they are redacted like every artifact.
        details = props.get("kylecode_run")
        if isinstance(details, dict) and details:
            from agent_runtime.observe.redact import redact_json

            env = dict(os.environ)  # read once: redaction looks up every key variable per string
            details = dict(details)
            transcript = details.pop("transcript", None)
            redacted = redact_json(details, env)
            metrics = redacted.pop("metrics", None)
            if isinstance(metrics, dict):
                row.metrics = metrics
            if isinstance(transcript, list):
                row.transcript = _redacted_transcript(transcript, env)
            for name in PATH_DETAILS:
                if isinstance(redacted.get(name), str):
                    redacted[name] = self._relative(redacted[name])
            row.details.update(redacted)

    def _relative(self, text: str) -> str:
        return text.replace(self._prefix, "") if self._prefix else text

    # -- aggregation --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"cells": len(self.rows)}
        for row in self.rows.values():
            counts[row.outcome] = counts.get(row.outcome, 0) + 1
        return counts

    def by_scenario(self) -> dict[str, list[Row]]:
        """Rows per scenario (by name), each in its matrix's order: provider, fault, then the id."""
        grouped: dict[str, list[Row]] = {}
        for row in sorted(self.rows.values(), key=lambda r: (r.provider_rank, r.fault_rank, r.cell)):
            grouped.setdefault(row.scenario, []).append(row)
        return dict(sorted(grouped.items()))

    def table(self, rows: list[Row]) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
        """Fault columns and provider rows in the scenario's order, cells like ``4/4`` or ``3/4 FAIL``."""
        faults = [f for _, f in sorted({(r.fault_rank, r.fault) for r in rows})]
        providers = [p for _, p in sorted({(r.provider_rank, r.provider) for r in rows})]
        table = []
        for provider in providers:
            cells: dict[str, str] = {}
            for fault in faults:
                group = [r for r in rows if r.provider == provider and r.fault == fault]
                cells[fault] = summarize(group)
            table.append((provider, cells))
        return faults, table

    def failing(self) -> list[Row]:
        return sorted((r for r in self.rows.values() if r.outcome in FAILING), key=lambda r: r.nodeid)

    def unexpected_passes(self) -> list[Row]:
        return sorted((r for r in self.rows.values() if r.outcome == "xpassed"), key=lambda r: r.nodeid)


def _redacted_transcript(entries: list[JSONObject], env: dict[str, str]) -> list[JSONObject]:
    """The excerpt's texts redacted in one pass (a cell's ten strings cost ten passes otherwise):
    joined by NUL, which no key and no key-shaped value contains, so no match spans two texts."""
    from agent_runtime.observe.redact import redact_json, redact_text

    if not entries:  # a run with no conversation (an agent the harness only meters): nothing to join
        return []
    if not all(isinstance(e, dict) and isinstance(e.get("text"), str) and "\0" not in e["text"] for e in entries):
        return list(redact_json(entries, env))
    texts = redact_text("\0".join(e["text"] for e in entries), env).split("\0")
    if len(texts) != len(entries):  # a masked key-shaped run swallowed a NUL: redact text by text
        return list(redact_json(entries, env))
    return [
        {**redact_json({k: v for k, v in e.items() if k != "text"}, env), "text": t}
        for e, t in zip(entries, texts, strict=True)
    ]


def summarize(group: list[Row]) -> str:
    """``good/ran``, then ``FAIL`` when a cell failed, else ``XPASS`` when one passed unexpectedly."""
    if not group:
        return "n/a"
    ran = [r for r in group if r.outcome != "skipped"]
    if not ran:
        return "skip"
    good = sum(1 for r in ran if r.outcome in PASSING)
    if any(r.outcome in FAILING for r in ran):
        return f"{good}/{len(ran)} FAIL"
    if any(r.outcome == "xpassed" for r in ran):
        return f"{good}/{len(ran)} XPASS"
    return f"{good}/{len(ran)}"


OUTCOME_WORDS = (
    ("passed", "passed"),
    ("failed", "failed"),
    ("error", "error"),
    ("skipped", "skipped"),
    ("xfailed", "xfailed"),
    ("xpassed", "passed unexpectedly"),
)


def summary_line(counts: dict[str, int]) -> str:
    parts = [f"{counts.get(k, 0)} {word}" for k, word in OUTCOME_WORDS if counts.get(k)]
    tail = f"; {counts['not_applicable']} not applicable" if counts.get("not_applicable") else ""
    return f"{counts.get('cells', 0)} cells: " + (", ".join(parts) or "none ran") + tail


def _short_message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    if report.passed:  # an unexpected pass: the reason it was expected to fail
        return f"passed unexpectedly (expected to fail: {getattr(report, 'wasxfail', '')})"
    text = report.longreprtext.strip()
    first, _, rest = text.partition("\n")
    if first.startswith("[gw") and " -- Python " in first:
        text = rest  # xdist's "[gw0] linux -- Python ..." banner: the same message must read the same
    return text[-4000:]
