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
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from agent_runtime.config import AgentConfig
from agent_runtime.messages import JSONObject, ToolMode
from pytest_kylecode.cassettes.matching import MatchRules
from pytest_kylecode.faults.catalog import FaultSpec
from pytest_kylecode.process.spec import ProgramSpec

if TYPE_CHECKING:
    from pytest_kylecode.emulator.script import Turn

# A ``when:`` / ``exclude`` entry: matrix axis (provider, streaming, tools, fault) -> the values it
# selects (route patterns, booleans, tool modes, fault kinds or ids).
Selector: TypeAlias = dict[str, tuple[str | bool, ...]]


@dataclass(frozen=True, slots=True)
class Override:
    when: Selector
    expect: JSONObject
    skip: str | None = None
    xfail: str | None = None
    expect_where: dict[str, str] = field(default_factory=dict)  # mismatch key -> file:line


@dataclass(frozen=True, slots=True)
class Matrix:
    providers: tuple[str, ...]
    streaming: tuple[bool, ...]
    tools: tuple[ToolMode, ...]
    faults: tuple[FaultSpec, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: Path
    description: str
    task: str
    workspace: dict[str, str]
    agent: JSONObject  # as written (validated); hashed into cassettes
    agent_config: AgentConfig  # parsed, before the matrix axes are applied
    requires: tuple[str, ...]
    script: tuple[Turn, ...]  # emulator turns
    script_data: object  # as written; hashed into cassettes
    matrix: Matrix
    exclude: tuple[Selector, ...]
    expect: JSONObject
    overrides: tuple[Override, ...]
    snapshot: bool
    agent_factory: str | None = None
    agent_program: ProgramSpec | None = None  # agent.command: a program as the agent
    expect_where: dict[str, str] = field(default_factory=dict)  # mismatch key -> file:line
    # What replay compares a request on, beyond the defaults and the ini keys; not hashed: ignoring
    # a field does not change the traffic, so it leaves the cassettes valid.
    match: MatchRules = field(default_factory=MatchRules)

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
    tool_mode: ToolMode
    fault: FaultSpec
    expect: JSONObject = field(default_factory=dict)
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

    def report_key(self) -> dict[str, str | bool | int]:
        """The cell's row key in the report; the ranks order its columns as the scenario does."""
        matrix = self.scenario.matrix
        return {
            "scenario": self.scenario.name,
            "provider": self.provider,
            "streaming": self.streaming,
            "tools": self.tool_mode,
            "fault": self.fault.id,
            "cell": self.id,
            "provider_rank": matrix.providers.index(self.provider),
            "fault_rank": matrix.faults.index(self.fault),
        }


def stream_word(streaming: bool) -> str:
    return "stream" if streaming else "nostream"


def cell_id(provider: str, streaming: bool, tool_mode: ToolMode, fault: FaultSpec) -> str:
    return f"{provider}-{stream_word(streaming)}-{tool_mode}-{fault.id}"


class Axes(NamedTuple):
    """Where a cell sits in its scenario's matrix, in the order the matrix is expanded."""

    provider: str
    streaming: bool
    tool_mode: ToolMode
    fault: FaultSpec


def matches(when: Selector, axes: Axes) -> bool:
    """Whether a ``when:``/``exclude`` entry selects a cell; every given axis must match one listed value.

    Providers match as shell patterns (``anthropic/*``); a fault matches by kind
    (``http_503`` selects every variant) or by full id (``http_503-times=5``).
    """
    for axis, allowed in when.items():
        if axis == "provider":
            ok = any(isinstance(pattern, str) and fnmatch.fnmatchcase(axes.provider, pattern) for pattern in allowed)
        elif axis == "fault":
            ok = axes.fault.kind in allowed or axes.fault.id in allowed
        elif axis == "streaming":
            ok = axes.streaming in allowed
        else:
            ok = axes.tool_mode in allowed
        if not ok:
            return False
    return True
