"""``run_agent``: one agent run wired end to end.

config + ``httpx.Client`` + clock -> ``ProviderClient`` -> ``ResilientModel``
(metrics, run log) -> optional capability probes -> ``Agent`` -> ``RunResult``
with ``metrics`` set to the snapshot and ``runlog`` holding the in-memory run log
(``result.runlog.write(root, scenario, cell)`` makes the run directory; nothing
is written unless a caller asks). When ``KYLECODE_TELEMETRY_PATH`` is set in
``env``, the run's spans are appended to it at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from agent_runtime.clock import Clock, SystemClock
from agent_runtime.config import AgentConfig
from agent_runtime.loop.agent import Agent, RunResult
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.observe.telemetry import ENV_PATH, export
from agent_runtime.probes import run_probes
from agent_runtime.resilience.resilient import ResilientModel
from agent_runtime.version import __version__
from agent_runtime.wire.client import ProviderClient

if TYPE_CHECKING:
    import httpx

    from agent_runtime.loop.tools import Tool, ToolRegistry


@dataclass(slots=True)
class AgentRun(RunResult):
    """A ``RunResult`` plus the run log of the run (``None`` when recording was off)."""

    runlog: RunLog | None = None


def run_agent(
    config: AgentConfig,
    task: str,
    workspace: str | Path,
    *,
    http: httpx.Client,
    clock: Clock | None = None,
    env: Mapping[str, str] | None = None,
    runlog: bool = True,
    tools: ToolRegistry | Iterable[Tool] | None = None,
) -> AgentRun:
    """Run ``task`` in ``workspace`` with ``config``; never raises for provider trouble.

    ``env`` supplies API keys, base-URL overrides and ``KYLECODE_TELEMETRY_PATH``
    (default ``os.environ``); ``clock`` defaults to the real clock. Raises ``ConfigError``
    when the config names no route or an unknown provider.
    """
    clock = clock if clock is not None else SystemClock()
    env = os.environ if env is None else env
    metrics = ProviderMetricsCollector()
    telemetry_target = env.get(ENV_PATH)
    log = RunLog(clock_now=clock.now()) if (runlog or telemetry_target) else None
    client = ProviderClient(http, clock=clock, timeouts=config.timeouts, env=env)
    model = ResilientModel(client, config, clock=clock, metrics=metrics, runlog=log)
    if config.probes:
        run_probes(model, runlog=log)
    result = Agent(config, model, workspace, tools=tools).run(task)
    metrics.set_completion(result.outcome, result.completion_reason, result.steps, result.error_category)
    result.metrics = metrics.snapshot()
    if log is not None:
        log.set_metrics(result.metrics)
        log.set_conversation(result.conversation)
        log.set_info(
            outcome=result.outcome,
            completion_reason=result.completion_reason,
            error_category=result.error_category,
            error_message=result.error_message,
            steps=result.steps,
            final_route=result.final_route,
            route=config.route,
            routes=[r.name for r in model.routes],
            streaming=config.streaming,
            tool_mode=config.tool_mode,
            seed=config.seed,
            runtime_version=__version__,
        )
        if telemetry_target:
            export(log.telemetry_lines(env), env)
    run = AgentRun(**{f.name: getattr(result, f.name) for f in fields(RunResult)})
    run.runlog = log if runlog else None
    return run
