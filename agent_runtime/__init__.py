"""agent_runtime: the thin agent runtime that pytest-kylecode puts through its matrix.

The public names below are loaded on first use (PEP 562), so importing one small
module of the package (``agent_runtime.clock``, say) does not pull in httpx,
Jinja2 and jsonschema: collection of a large matrix stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Agent": "loop.agent", "RunResult": "loop.agent",
    "AgentConfig": "config", "load_agent_config": "config", "parse_agent_config": "config",
    "Clock": "clock", "FastForwardClock": "clock", "SystemClock": "clock", "VirtualClock": "clock",
    "CATEGORIES": "errors", "ConfigError": "errors", "KylecodeError": "errors", "ProviderError": "errors",
    "RunFailed": "errors",
    "ProviderMetricsCollector": "observe.metrics",
    "Model": "loop.model", "ModelTurn": "loop.model",
    "PROVIDERS": "providers", "Route": "providers", "parse_route": "providers",
    "ProviderClient": "wire.client", "CallRecord": "wire.client",
    "ResilientModel": "resilience.resilient",
    "AgentRun": "runner", "run_agent": "runner",
    "ScriptedModel": "testing",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
