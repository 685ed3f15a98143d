from __future__ import annotations

import anthropic  # noqa: F401
import openai  # noqa: F401
import pytest
import yaml  # noqa: F401

import pytest_kylecode.byo.driver

# Imported here, in the outer process, so pytester's in-process runs keep them (PyYAML's C
# extension and the SDKs' pydantic models do not survive being dropped and re-imported).
import pytest_kylecode.byo.fixture
import pytest_kylecode.cell.runner
import pytest_kylecode.collect
import pytest_kylecode.scenarios.matrix
import pytest_kylecode.snapshot  # noqa: F401

# pytester comes from pyproject's addopts (-p pytester): `pytest_plugins` is refused in a
# conftest below the rootdir when the whole suite runs.


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user project: an ini that puts the project root on sys.path (for factories), no cache."""
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n")
    monkeypatch.delenv("CI", raising=False)
    return pytester
