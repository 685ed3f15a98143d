"""What ``kylecode init`` writes, as package data: a starter scenario and the two workflows.

The workflows are Jinja templates with ``[[ ]]`` and ``[% %]`` as delimiters, so that GitHub's own
``${{ }}`` expressions pass through untouched. A ``Profile`` fills them: ``USER`` for a project
that depends on the plugin (installs it from PyPI, runs only the matrix); this repository's own
``ci/workflows/`` are the ``REPOSITORY`` instance (installs the checkout, adds its test suite), and
a test renders them and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Final

WORKFLOWS: Final = ("matrix.yml", "rerecord.yml")


@dataclass(frozen=True, slots=True)
class Profile:
    install: tuple[str, ...]  # the lines of the install step
    suite: bool  # add the test-suite jobs (this repository's own gate)
    gate_file: str  # the gate's file name under .github/workflows (re-record dispatches it)
    scenarios: str = "scenarios"
    cassettes: str = "cassettes"


USER: Final = Profile(
    install=(
        "if [ -f pyproject.toml ] || [ -f setup.py ]; then pip install -e .; fi",
        "pip install pytest-kylecode",
    ),
    suite=False,
    gate_file="kylecode-matrix.yml",
)
REPOSITORY: Final = Profile(install=("pip install -e '.[dev]'",), suite=True, gate_file="matrix.yml")


def _environment() -> object:
    import jinja2

    return jinja2.Environment(
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        keep_trailing_newline=True,
        trim_blocks=True,
        autoescape=False,  # YAML, not HTML
        undefined=jinja2.StrictUndefined,
    )


def read(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def render(name: str, profile: Profile) -> str:
    """The workflow ``name`` (one of ``WORKFLOWS``) for ``profile``."""
    import jinja2

    environment = _environment()
    assert isinstance(environment, jinja2.Environment)
    template = environment.from_string(read(name))
    return template.render(
        install=profile.install,
        suite=profile.suite,
        gate_file=profile.gate_file,
        scenarios=profile.scenarios,
        cassettes=profile.cassettes,
    )


def starter_scenario(name: str) -> str:
    return read("scenario.yaml").replace("[[ name ]]", name)
