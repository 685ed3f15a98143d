"""pytest-kylecode: scenario YAML -> provider x streaming x tools x fault matrices, replayed from cassettes.

The pytest plugin itself is ``pytest_kylecode.plugin`` (registered through the ``pytest11``
entry point). The names below are for users' own code: bringing their own agent, and
driving the emulator or the fault injection from tests. They load on first use (PEP 562),
so the plugin's start-up stays free of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names are, for type checkers; at run time they load on first use
    from pytest_kylecode.byo.agent_report import AgentReport as AgentReport
    from pytest_kylecode.byo.context import CellContext as CellContext
    from pytest_kylecode.cassettes.transport import CassetteTransport as CassetteTransport
    from pytest_kylecode.emulator.transport import EmulatorTransport as EmulatorTransport
    from pytest_kylecode.faults.catalog import FAULT_KINDS as FAULT_KINDS, FaultSpec as FaultSpec
    from pytest_kylecode.faults.transport import FaultTransport as FaultTransport

__version__ = "0.1.0"

_EXPORTS = {
    "AgentReport": "byo.agent_report",
    "CellContext": "byo.context",
    "EmulatorTransport": "emulator.transport",
    "FaultSpec": "faults.catalog",
    "FAULT_KINDS": "faults.catalog",
    "FaultTransport": "faults.transport",
    "CassetteTransport": "cassettes.transport",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_kylecode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
