"""Several runs' ``report.json`` (the shards of one matrix run) as one ``MatrixReport``, so that
a sharded CI run can write one report and post one comment."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from agent_runtime.errors import ConfigError
from pytest_kylecode.report.collect import MatrixReport, Row
from pytest_kylecode.report.document import SCHEMA

_FIELDS = frozenset(f.name for f in fields(Row))


def merge(paths: list[Path]) -> MatrixReport:
    """``paths``: report.json files, or the directories holding them. A cell in two of them (shards
    that overlap) is an error naming both."""
    report = MatrixReport()
    seen: dict[str, Path] = {}
    for given in paths:
        path = given / "report.json" if given.is_dir() else given
        for i, cell in enumerate(_cells(path)):
            where = f"cells[{i}]"
            if not isinstance(cell, dict) or set(cell) != _FIELDS:
                missing = sorted(_FIELDS - set(cell)) if isinstance(cell, dict) else []
                raise ConfigError(
                    f"not a cell of a schema {SCHEMA} report (missing {missing})", where=str(path), key=where
                )
            row = Row(**cell)
            if row.nodeid in seen:
                raise ConfigError(f"{row.nodeid} is in {seen[row.nodeid]} too: do the shards overlap?", where=str(path))
            seen[row.nodeid] = path
            report.rows[row.nodeid] = row
    return report


def _cells(path: Path) -> list[object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the report: {exc.strerror or exc}", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON ({exc.msg}); expected a report.json", where=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("cells"), list):
        raise ConfigError(
            f"expected a report.json of schema {SCHEMA} with a list of cells", where=str(path), key="schema"
        )
    cells: list[object] = data["cells"]
    return cells
