"""Scenarios and the cells of their matrix.

A ``Cell`` is one (provider, streaming, tools, fault) combination of one
scenario, with its expectations already merged from ``overrides``. Its ``id``
names the four axes, e.g. ``openrouter/z-ai/glm-4.6-stream-native-http_503``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.config import AgentConfig
from pytest_kylecode.faults.catalog import FaultSpec


@dataclass(frozen=True, slots=True)
class Override:
    when: dict[str, tuple[Any, ...]]
    expect: dict[str, Any]
    skip: str | None = None
    xfail: str | None = None
    expect_where: dict[str, str] = field(default_factory=dict)  # mismatch key -> file:line


@dataclass(frozen=True, slots=True)
class Matrix:
    providers: tuple[str, ...]
    streaming: tuple[bool, ...]
    tools: tuple[str, ...]
    faults: tuple[FaultSpec, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: Path
    description: str
    task: str
    workspace: dict[str, str]
    agent: dict[str, Any]  # as written (validated); hashed into cassettes
    agent_config: AgentConfig  # parsed, before the matrix axes are applied
    requires: tuple[str, ...]
    script: tuple[Any, ...]  # emulator turns
    script_data: Any  # as written; hashed into cassettes
    matrix: Matrix
    exclude: tuple[dict[str, tuple[Any, ...]], ...]
    expect: dict[str, Any]
    overrides: tuple[Override, ...]
    snapshot: bool
    agent_factory: str | None = None
    expect_where: dict[str, str] = field(default_factory=dict)  # mismatch key -> file:line

    @property
    def content_hash(self) -> str:
        """Stable hash of what determines the upstream traffic: task, workspace, script, agent."""
        payload = json.dumps(
            {"task": self.task, "workspace": self.workspace, "script": self.script_data, "agent": self.agent},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cell:
    scenario: Scenario
    provider: str
    streaming: bool
    tool_mode: str
    fault: FaultSpec
    expect: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None
    xfail: str | None = None
    expect_where: dict[str, str] = field(default_factory=dict)  # mismatch key -> file:line that set it

    @property
    def id(self) -> str:
        return cell_id(self.provider, self.streaming, self.tool_mode, self.fault)

    def agent_config(self) -> AgentConfig:
        """The scenario's ``agent:`` settings with this cell's axes applied: what its agent runs with."""
        return self.scenario.agent_config.with_overrides(
            route=self.provider, streaming=self.streaming, tool_mode=self.tool_mode
        )

    @property
    def cassette_relpath(self) -> Path:
        """``<scenario>/<provider>/<model>/<stream|nostream>-<native|text>-<fault id>.yaml``"""
        provider, model = self.provider.split("/", 1)
        fault = self.fault.id.replace("/", "_")
        return Path(
            self.scenario.name,
            provider,
            *model.split("/"),
            f"{stream_word(self.streaming)}-{self.tool_mode}-{fault}.yaml",
        )

    def report_key(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "provider": self.provider,
            "streaming": self.streaming,
            "tools": self.tool_mode,
            "fault": self.fault.id,
            "cell": self.id,
        }

    def axes(self) -> dict[str, Any]:
        return {"provider": self.provider, "streaming": self.streaming, "tools": self.tool_mode, "fault": self.fault}


def stream_word(streaming: bool) -> str:
    return "stream" if streaming else "nostream"


def cell_id(provider: str, streaming: bool, tool_mode: str, fault: FaultSpec) -> str:
    return f"{provider}-{stream_word(streaming)}-{tool_mode}-{fault.id}"


def matches(when: dict[str, tuple[Any, ...]], axes: dict[str, Any]) -> bool:
    """Whether a ``when:``/``exclude`` entry selects a cell; every given axis must match one listed value.

    Providers match as shell patterns (``anthropic/*``); a fault matches by kind
    (``http_503`` selects every variant) or by full id (``http_503-times=5``).
    """
    for axis, allowed in when.items():
        value = axes[axis]
        if axis == "provider":
            ok = any(fnmatch.fnmatchcase(value, pattern) for pattern in allowed)
        elif axis == "fault":
            ok = value.kind in allowed or value.id in allowed
        else:
            ok = value in allowed
        if not ok:
            return False
    return True
