"""``report.json``: the one document every other rendering (markdown, HTML, PR summary) reads.

Schema 2 adds to schema 1 each cell's headline metrics, its transcript excerpt and its matrix
ranks, the run's provenance (commit, UTC time, plugin version), every not-applicable
combination's axes, and the comparison with a baseline when one was given.
"""

from __future__ import annotations

import datetime
import itertools
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.collect import MatrixReport

SCHEMA: Final = 2


def provenance(rootdir: Path) -> JSONObject:
    """What a trend or a comparison needs to place a run: the commit (None outside git), time, version."""
    from pytest_kylecode import __version__

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True, timeout=10, check=False
        )
        commit = done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"commit": commit, "created_at": created, "plugin_version": __version__}


@dataclass(frozen=True, slots=True)
class Census:
    """What the scenario files define, recomputed from them (the xdist controller collects nothing)."""

    not_applicable: dict[str, list[JSONObject]]  # per scenario: the axes and ranks of each combination
    nodeids: set[str] | None  # every cell's node id; None when the files are outside the root


def census(scenarios_dir: Path, rootdir: Path, names: set[str] | None = None) -> Census:
    """``names``: the scenarios whose not-applicable combinations are wanted (None: all)."""
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.scenarios.files import scenario_files
    from pytest_kylecode.scenarios.matrix import expand, load_scenario
    from pytest_kylecode.scenarios.scenario import cell_id

    result: dict[str, list[JSONObject]] = {}
    nodeids: set[str] | None = set()
    try:
        files = scenario_files(scenarios_dir)
    except ConfigError:
        return Census(result, None)
    for path in files:
        try:
            scenario = load_scenario(path)
        except ConfigError:
            continue
        expansion = expand(scenario)
        try:
            module = path.resolve().relative_to(rootdir.resolve()).as_posix()
        except ValueError:
            nodeids = None
        if nodeids is not None:
            nodeids.update(f"{module}::{scenario.name}[{cell.id}]" for cell in expansion.cells)
        if names is not None and scenario.name not in names:
            continue
        ruled_out = set(expansion.not_applicable)
        m = scenario.matrix
        entries: list[JSONObject] = []
        for (p_rank, provider), streaming, tools, (f_rank, fault) in itertools.product(
            enumerate(m.providers), m.streaming, m.tools, enumerate(m.faults)
        ):
            cell = cell_id(provider, streaming, tools, fault)
            if cell in ruled_out:
                entries.append(
                    {
                        "cell": cell,
                        "provider": provider,
                        "streaming": streaming,
                        "tools": tools,
                        "fault": fault.id,
                        "provider_rank": p_rank,
                        "fault_rank": f_rank,
                    }
                )
        result[scenario.name] = entries
    return Census(result, nodeids)


def build(
    report: MatrixReport,
    na: dict[str, list[JSONObject]] | None = None,
    *,
    comparison: Comparison | None = None,
    run: JSONObject | None = None,
) -> JSONObject:
    """The document; ``run`` is ``provenance()`` (left out, the document says nothing of its run)."""
    counts = report.counts()
    na = na or {}
    counts["not_applicable"] = sum(len(v) for v in na.values())
    scenarios: JSONObject = {}
    for scenario, rows in report.by_scenario().items():
        faults, table = report.table(rows)
        scenarios[scenario] = {
            "faults": faults,
            "providers": {provider: cells for provider, cells in table},
            "not_applicable": [entry["cell"] for entry in na.get(scenario, [])],
            "not_applicable_cells": na.get(scenario, []),
        }
    run = run or {"commit": None, "created_at": None, "plugin_version": None}
    return {
        "schema": SCHEMA,
        **run,
        "summary": counts,
        "baseline": comparison.to_json() if comparison is not None else None,
        "scenarios": scenarios,
        "cells": [asdict(row) for row in sorted(report.rows.values(), key=lambda r: r.nodeid)],
    }
