"""What a finished cell's run says about it: every check that failed, as readable sections.

``judge`` is pure (no pytest, no files written): the replay or recording problems of the
cassette, the invariants every cell must keep (unless its expectations state one themselves), and
the cell's expectations, each mismatch
naming the line of the scenario that set the expected value. The metrics snapshot is compared
by the cell runner, which owns the syrupy session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_kylecode.cell.stack import CellRun
from pytest_kylecode.expect import check, invariants, measure
from pytest_kylecode.process.driver import ProgramRun
from pytest_kylecode.scenarios.scenario import Cell

__all__ = ["Verdict", "judge"]


@dataclass(slots=True)
class Verdict:
    """The failed checks of one cell, in the order a reader wants them. ``traffic_clean``: the
    cassette had nothing to say (no miss, no unplayed interaction, no upstream failure), so a
    failed expectation is the scenario's to change, not the cassette's."""

    sections: list[str] = field(default_factory=list)
    traffic_clean: bool = True

    @property
    def passed(self) -> bool:
        return not self.sections

    def add(self, title: str, lines: list[str]) -> None:
        self.sections.append(f"{title}:\n" + "\n".join(f"  {line}" for line in lines))


def judge(cell: Cell, run: CellRun, *, where: Callable[[str], str] = str) -> Verdict:
    """The verdict on ``run``; ``where`` renders a ``file:line`` for the reader (relative paths)."""
    verdict = Verdict(traffic_clean=not run.cassette_problems)
    if run.cassette_problems:
        title = "recording" if run.cassettes.recording else "replay"
        verdict.add(title, [line for problem in run.cassette_problems for line in problem.splitlines()])
    result = run.result
    metrics = result.metrics or {}
    broken = invariants(result, metrics, cell.expect)
    if broken:
        verdict.add("invariants", broken)
    mismatches = check(cell.expect, measure(result, metrics), metrics, run.workspace)
    if mismatches:
        verdict.add(
            "expectations (expected vs actual)",
            [
                f"{m}  (expected by {where(cell.expect_where[m.key])})" if m.key in cell.expect_where else str(m)
                for m in mismatches
            ],
        )
    if not verdict.passed and isinstance(result, ProgramRun) and result.program is not None:
        # A program's own account of what went wrong is in its output: the reader needs it here.
        verdict.add("program", result.program.tail())
    return verdict


def relative_where(rootdir: Path) -> Callable[[str], str]:
    """A ``where`` for ``judge``: ``file:line`` relative to ``rootdir``, as editors and CI logs want it."""

    def render(where: str) -> str:
        path, _, line = where.rpartition(":")
        try:
            return f"{Path(path).relative_to(rootdir)}:{line}"
        except ValueError:
            return where

    return render
