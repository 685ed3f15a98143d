"""pytest entry point of pytest-kylecode: hooks and fixtures only.

Every hook delegates to the ``KylecodeSession`` kept in ``config.stash``. Without
``--kylecode-matrix`` no session exists and every hook returns at once, so the
plugin costs nothing in ordinary test runs.
"""

from __future__ import annotations

import pytest

from .options import add_options


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
