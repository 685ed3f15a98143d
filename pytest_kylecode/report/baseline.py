"""``--kylecode-baseline``: this run compared with a ``report.json`` of another (main's, on a PR).

The comparison is by node id: cells newly failing, newly passing, new and removed, then every
headline metric that moved. A baseline that cannot be read is an error naming the file, the line
(bad JSON) or the key, before any cell runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agent_runtime.errors import ConfigError
from agent_runtime.messages import JSONObject
from pytest_kylecode.report.collect import FAILING, PASSING, MatrixReport
from pytest_kylecode.report.excerpt import METRICS


@dataclass(frozen=True, slots=True)
class BaselineCell:
    outcome: str
    metrics: JSONObject


@dataclass(frozen=True, slots=True)
class Baseline:
    path: Path
    commit: str | None
    cells: dict[str, BaselineCell]


@dataclass(frozen=True, slots=True)
class Delta:
    nodeid: str
    metric: str
    before: float | None
    after: float | None

    def text(self) -> str:
        change = ""
        if self.before is not None and self.after is not None:
            change = f" ({self.after - self.before:+g})"
        return f"{self.metric} {_number(self.before)} -> {_number(self.after)}{change}"


@dataclass(frozen=True, slots=True)
class Comparison:
    source: str
    commit: str | None
    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)

    def headline(self) -> str:
        against = f" (commit {self.commit[:12]})" if self.commit else ""
        return (
            f"compared with {self.source}{against}: {len(self.newly_failing)} newly failing, "
            f"{len(self.newly_passing)} newly passing, {len(self.new)} new, {len(self.removed)} removed, "
            f"{len({d.nodeid for d in self.deltas})} cells with metric changes"
        )

    def to_json(self) -> JSONObject:
        return {
            "source": self.source,
            "commit": self.commit,
            "newly_failing": self.newly_failing,
            "newly_passing": self.newly_passing,
            "new": self.new,
            "removed": self.removed,
            "deltas": [
                {"nodeid": d.nodeid, "metric": d.metric, "before": d.before, "after": d.after} for d in self.deltas
            ],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Comparison:
        return cls(
            source=data["source"],
            commit=data["commit"],
            newly_failing=list(data["newly_failing"]),
            newly_passing=list(data["newly_passing"]),
            new=list(data["new"]),
            removed=list(data["removed"]),
            deltas=[Delta(d["nodeid"], d["metric"], d["before"], d["after"]) for d in data["deltas"]],
        )


def load_baseline(path: Path) -> Baseline:
    """Read a ``report.json`` (schema 1 has no metrics: then no deltas); ``ConfigError`` naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the baseline report: {exc.strerror or exc}", where=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON ({exc.msg}); expected a report.json", where=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ConfigError("expected a report.json with a list of cells", where=str(path), key="cells")
    commit = data.get("commit")
    cells: dict[str, BaselineCell] = {}
    for i, cell in enumerate(data["cells"]):
        for key in ("nodeid", "outcome"):
            if not isinstance(cell, dict) or not isinstance(cell.get(key), str):
                raise ConfigError("expected a string", where=str(path), key=f"cells[{i}].{key}")
        metrics = cell.get("metrics")
        cells[cell["nodeid"]] = BaselineCell(cell["outcome"], metrics if isinstance(metrics, dict) else {})
    return Baseline(path, commit if isinstance(commit, str) else None, cells)


def compare(baseline: Baseline, report: MatrixReport, *, source: str, defined: set[str] | None = None) -> Comparison:
    """``source``: the baseline as the user named it. ``defined``: the node ids of every cell the
    scenario files define now; a baseline cell among them that did not run (a shard, ``-k``) is
    not removed, only not compared."""
    now = report.rows
    comparison = Comparison(source, baseline.commit)
    for nodeid in sorted(now.keys() | baseline.cells.keys()):
        row, before = now.get(nodeid), baseline.cells.get(nodeid)
        if before is None:
            comparison.new.append(nodeid)
        elif row is None:
            if defined is None or nodeid not in defined:
                comparison.removed.append(nodeid)
        else:
            if before.outcome in PASSING and row.outcome in FAILING:
                comparison.newly_failing.append(nodeid)
            elif before.outcome in FAILING and row.outcome in PASSING:
                comparison.newly_passing.append(nodeid)
            for metric in METRICS:
                if metric in before.metrics and metric in row.metrics:
                    old, new = before.metrics[metric], row.metrics[metric]
                    if old != new:
                        comparison.deltas.append(Delta(nodeid, metric, old, new))
    return comparison


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
