from __future__ import annotations

import pytest
from matrix_helpers import Matrix


@pytest.fixture
def matrix(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Matrix:
    return Matrix(pytester, monkeypatch)
