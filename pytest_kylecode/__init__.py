"""pytest-kylecode: scenario YAML -> provider x streaming x tools x fault matrices, replayed from cassettes.

The pytest plugin itself is ``pytest_kylecode.plugin`` (registered through the ``pytest11``
entry point). The names below are for users' own code: bringing their own agent, and
driving the emulator or the fault injection from tests. They load on first use (PEP 562),
so the plugin's start-up stays free of them.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_kylecode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
