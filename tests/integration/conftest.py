"""Fixtures of the integration tests: user projects that real pytest sessions (pytester) run in."""

from __future__ import annotations

import anthropic  # noqa: F401
import openai  # noqa: F401
import pytest
import yaml  # noqa: F401
from matrix_helpers import Matrix

# Imported here, in the outer process, so pytester's in-process runs keep them (PyYAML's C
# extension and the SDKs' pydantic models do not survive being dropped and re-imported; a
# re-imported ``yaml`` package no longer matches the node classes its C parser was built with).
import pytest_kylecode.byo.driver
import pytest_kylecode.byo.fixture
import pytest_kylecode.cell.runner
import pytest_kylecode.collect
import pytest_kylecode.scenarios.matrix
import pytest_kylecode.snapshot  # noqa: F401

# pytester comes from pyproject's addopts (-p pytester): `pytest_plugins` is refused in a
# conftest below the rootdir when the whole suite runs.


@pytest.fixture
def matrix(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Matrix:
    """A project of scenario files, recorded and replayed with ``--kylecode-matrix``."""
    return Matrix(pytester, monkeypatch)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user project: an ini that puts the project root on sys.path (for factories), no cache."""
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n")
    monkeypatch.delenv("CI", raising=False)
    return pytester
