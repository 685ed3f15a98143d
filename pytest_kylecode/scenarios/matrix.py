"""Matrix expansion: scenario -> cells, in the order the file lists the axes.

Order is provider x streaming x tools x fault as written, so every xdist
worker (and every machine) builds the same cells in the same order. Excluded
combinations are dropped silently; combinations the fault catalog rules out
(a stream fault without streaming, a native-tool fault in text mode) are
returned separately so the report can count them as not applicable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from agent_runtime.yamlsource import load as load_yaml
from pytest_kylecode.scenarios.scenario import Axes, Cell, Scenario, cell_id, matches
from pytest_kylecode.scenarios.validate import parse_scenario


@dataclass(frozen=True, slots=True)
class Expansion:
    cells: tuple[Cell, ...]
    not_applicable: tuple[str, ...]  # cell ids


def expand(scenario: Scenario) -> Expansion:
    m = scenario.matrix
    cells: list[Cell] = []
    not_applicable: list[str] = []
    for axes in itertools.starmap(Axes, itertools.product(m.providers, m.streaming, m.tools, m.faults)):
        provider, streaming, tool_mode, fault = axes
        if any(matches(entry, axes) for entry in scenario.exclude):
            continue
        if not fault.applies_to(streaming=streaming, tool_mode=tool_mode):
            not_applicable.append(cell_id(provider, streaming, tool_mode, fault))
            continue
        expect = dict(scenario.expect)
        where = dict(scenario.expect_where)
        skip = xfail = None
        for override in scenario.overrides:
            if matches(override.when, axes):
                expect.update(override.expect)
                if "metrics" in override.expect:  # the whole mapping is replaced, and so are its sources
                    where = {k: v for k, v in where.items() if not k.startswith("metrics.")}
                if "files" in override.expect:
                    where = {k: v for k, v in where.items() if not k.startswith("files[")}
                where.update(override.expect_where)
                skip = override.skip or skip
                xfail = override.xfail or xfail
        cells.append(Cell(scenario, provider, streaming, tool_mode, fault, expect, skip, xfail, where))
    return Expansion(tuple(cells), tuple(not_applicable))


def load_scenario(path: Path) -> Scenario:
    """Load and validate one scenario file; errors are ConfigErrors naming file:line and key."""
    return parse_scenario(load_yaml(path))
