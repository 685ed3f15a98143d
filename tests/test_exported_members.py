"""The public names of both packages exist and load lazily (importing the package pulls in no HTTP stack)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import agent_runtime
import pytest_kylecode


@pytest.mark.parametrize("package", [agent_runtime, pytest_kylecode], ids=lambda p: p.__name__)
def test_every_exported_name_resolves(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None, name
    assert sorted(dir(package)) == sorted(package.__all__)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_importing_the_packages_is_cheap() -> None:
    code = (
        "import sys, agent_runtime, pytest_kylecode, agent_runtime.clock, agent_runtime.config; "
        "print(sorted(m for m in ('httpx', 'jinja2', 'jsonschema', 'vcr', 'syrupy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
