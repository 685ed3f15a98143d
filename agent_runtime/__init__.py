"""agent_runtime: the thin agent runtime that pytest-kylecode puts through its matrix.

The public names below are loaded on first use (PEP 562), so importing one small
module of the package (``agent_runtime.clock``, say) does not pull in httpx,
Jinja2 and jsonschema: collection of a large matrix stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent_runtime.version import __version__

if TYPE_CHECKING:  # the lazy names below, for the type checker (``X as X``: an explicit re-export)
    from agent_runtime.clock import (
        Clock as Clock,
        FastForwardClock as FastForwardClock,
        SystemClock as SystemClock,
        VirtualClock as VirtualClock,
    )
    from agent_runtime.config import (
        AgentConfig as AgentConfig,
        load_agent_config as load_agent_config,
        parse_agent_config as parse_agent_config,
    )
    from agent_runtime.errors import (
        CATEGORIES as CATEGORIES,
        ConfigError as ConfigError,
        KylecodeError as KylecodeError,
        ProviderError as ProviderError,
        RunFailed as RunFailed,
    )
    from agent_runtime.loop.agent import Agent as Agent, RunResult as RunResult
    from agent_runtime.loop.model import Model as Model, ModelTurn as ModelTurn
    from agent_runtime.observe.metrics import ProviderMetricsCollector as ProviderMetricsCollector
    from agent_runtime.providers import PROVIDERS as PROVIDERS, Route as Route, parse_route as parse_route
    from agent_runtime.resilience.resilient import ResilientModel as ResilientModel
    from agent_runtime.runner import AgentRun as AgentRun, run_agent as run_agent
    from agent_runtime.testing import ScriptedModel as ScriptedModel
    from agent_runtime.wire.client import CallRecord as CallRecord, ProviderClient as ProviderClient

# public name -> module that defines it
_EXPORTS = {
    "Agent": "loop.agent",
    "RunResult": "loop.agent",
    "AgentConfig": "config",
    "load_agent_config": "config",
    "parse_agent_config": "config",
    "Clock": "clock",
    "FastForwardClock": "clock",
    "SystemClock": "clock",
    "VirtualClock": "clock",
    "CATEGORIES": "errors",
    "ConfigError": "errors",
    "KylecodeError": "errors",
    "ProviderError": "errors",
    "RunFailed": "errors",
    "ProviderMetricsCollector": "observe.metrics",
    "Model": "loop.model",
    "ModelTurn": "loop.model",
    "PROVIDERS": "providers",
    "Route": "providers",
    "parse_route": "providers",
    "ProviderClient": "wire.client",
    "CallRecord": "wire.client",
    "ResilientModel": "resilience.resilient",
    "AgentRun": "runner",
    "run_agent": "runner",
    "ScriptedModel": "testing",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
