from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kylecode.report import MatrixReport
from pytest_kylecode.scenarios.scenario import Cell

from .reports import cells_of, every_outcome, write_scenarios


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    return write_scenarios(tmp_path)


@pytest.fixture
def cells(scenarios: Path) -> dict[str, Cell]:
    return cells_of(scenarios)


@pytest.fixture
def matrix(cells: dict[str, Cell]) -> MatrixReport:
    return every_outcome(cells)
