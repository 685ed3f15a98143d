"""Running a user's agent in a matrix cell: ``ByoDriver``.

``execute_cell`` (``pytest_kylecode.cell.stack``) builds the cell's stack exactly as for the
runtime — the cassette session and the ``FaultTransport`` above it — and, for a scenario
with ``agent: {factory: ...}`` or a ``kylecode_cell`` test, runs it with this driver instead
of ``agent_runtime``'s. Here the stack gets a metering transport on top, the agent runs with
a ``CellContext``, and its ``AgentReport`` plus the measured traffic become the same
``AgentRun`` the runtime returns (metrics snapshot, run log), so expectations, snapshots, run
directories and the report see no difference.

The factory contract: ``"package.module:callable"`` (dotted attributes allowed after the
colon), imported on first use (Python caches the module for the process), called with the
``CellContext``; it returns an ``AgentReport``, a mapping of its fields, or ``None`` after
calling ``ctx.report(...)``; an ``async def`` factory is run to completion with
``asyncio.run``. A factory that raises fails the cell with the exception, where it was
raised and the traffic so far: an agent is expected to report provider failures it cannot
recover from as ``outcome: failed``, not to crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from agent_runtime.clock import Clock
from agent_runtime.config import AgentConfig
from agent_runtime.loop.agent import LOOP_GUARD_CATEGORY
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.runner import AgentRun
from pytest_kylecode.byo.agent_report import AgentReport, InvalidReport
from pytest_kylecode.byo.context import CellContext, CellWiring
from pytest_kylecode.byo.metering import MeteringTransport, TrafficMeter
from pytest_kylecode.byo.network import NetworkGuard, agent_frame
from pytest_kylecode.cell.stack import CellStack
from pytest_kylecode.failures import AgentCrashed, CellFailure, LiveRefusal
from pytest_kylecode.scenarios.scenario import Cell

__all__ = ["ByoDriver", "PreparedAgent", "agent_run", "load_factory"]

# What an agent callable returns is the user's: an AgentReport, a mapping of its fields, None, or an
# awaitable of one of those. It is checked when it arrives (AgentReport.coerce), not typed here.
AgentCallable: TypeAlias = Callable[[CellContext], object]


@dataclass(frozen=True, slots=True)
class PreparedAgent:
    """An agent bound to a context made in advance (the ``kylecode_cell`` fixture's).

    ``call(ctx)`` runs it; exceptions propagate as they are (a test's own assertion
    failures must stay the test's failures).
    """

    context: CellContext
    call: AgentCallable


def load_factory(spec: str) -> AgentCallable:
    """The callable named by ``package.module:attr[.attr]``; a ``CellFailure`` saying why not."""
    module_name, _, attribute = spec.partition(":")
    where = f"agent.factory {spec!r}"
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise CellFailure(
            f"{where}: cannot import module {module_name!r} ({exc}); is it importable from the test "
            "run (installed, or on sys.path, e.g. with the `pythonpath` ini option)?"
        ) from None
    except Exception as exc:
        raise CellFailure(f"{where}: importing {module_name!r} raised {_describe(exc)}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise CellFailure(f"{where}: {getattr(target, '__name__', target)!r} has no attribute {part!r}")
        target = getattr(target, part)
    if not callable(target):
        raise CellFailure(f"{where}: {attribute!r} is a {type(target).__name__}, not a callable taking a CellContext")
    return target


@dataclass(frozen=True, slots=True)
class ByoDriver:
    """A user's agent on the cell's stack: a prepared one (a test body) or the scenario's factory.

    A factory that raises fails the cell (``AgentCrashed``); a test body's own exception stays
    the test's, unless the harness caused it (a replay miss the agent gave up on)."""

    agent: PreparedAgent | None = None
    factory: str | None = None
    aborts_on_miss: bool = False  # the agent sees a miss as its HTTP client would: a transport error
    allow_hosts: tuple[str, ...] = ()  # reachable beyond loopback while the cell replays

    def fault_clock(self, clock: Clock) -> Clock:
        return clock  # the agent's clients wait on the cell clock too

    @classmethod
    def for_cell(cls, cell: Cell, agent: PreparedAgent | None, allow_hosts: tuple[str, ...] = ()) -> ByoDriver:
        if agent is None and not cell.scenario.agent_factory:
            raise ValueError("a byo cell needs a prepared agent or a scenario with agent.factory")
        factory = None if agent is not None else cell.scenario.agent_factory
        return cls(agent=agent, factory=factory, allow_hosts=allow_hosts)

    def run(self, stack: CellStack, workspace: Path) -> AgentRun:
        if self.agent is not None:
            ctx, call, crash_is_failure = self.agent.context, self.agent.call, False
        else:
            assert self.factory is not None
            ctx, call, crash_is_failure = CellContext(stack.cell, stack.config), load_factory(self.factory), True
        clock = stack.clock
        collector = ProviderMetricsCollector()
        runlog = RunLog(clock_now=clock.now())
        meter = TrafficMeter(
            clock, collector, runlog=runlog, tool_mode=stack.cell.tool_mode, match=stack.cassettes.spec.match
        )
        ctx.attach(
            CellWiring(
                workspace=workspace,
                clock=clock,
                transport=MeteringTransport(stack.transport, meter),
                env=stack.env,
                live=stack.live,
            )
        )
        crash: Exception | None = None
        value: object = None
        # A replay has every answer in its cassette: nothing else may reach the network.
        replaying = stack.cassettes.mode != "off" and not stack.cassettes.recording
        guard = NetworkGuard(self.allow_hosts) if replaying else None
        try:
            with guard if guard is not None else contextlib.nullcontext():
                value = call(ctx)
                if inspect.isawaitable(value):
                    value = asyncio.run(_awaited(value))
        except CellFailure:
            raise
        except Exception as exc:
            if not crash_is_failure and meter.harness_error is None and not (guard and guard.refused):
                raise  # a test's own failure stays the test's
            crash = exc
        finally:
            ctx.detach()
            meter.close()
        harness = meter.harness_error
        if isinstance(harness, LiveRefusal):
            raise harness  # the cell runner fails the cell (and stops the session when the budget is spent)
        if guard is not None and guard.refused:
            then = f"\n(the agent then raised {_agent_error(crash)})" if crash is not None else ""
            raise CellFailure(
                "network: the agent tried to reach hosts outside the cell's transport while it replayed "
                "(refused; only loopback is allowed):\n"
                + "\n".join(f"  {line}" for line in dict.fromkeys(guard.refused))
                + "\nsend every provider call through the cell's clients (ctx.httpx_client(), ctx.openai_client(), "
                "...), switch off what the framework sends by itself, or allow a host: --kylecode-allow-hosts=HOST"
                + then
            ) from crash
        if crash is not None and harness is not None:
            # The agent gave up because the cassette had no answer: the miss is the story.
            raise CellFailure(f"replay:\n{harness}\n(the agent then raised {_agent_error(crash)})") from crash
        if crash is not None:
            raise AgentCrashed(_crash_message(ctx, crash, collector)) from crash
        report = _the_report(ctx, value)
        return agent_run(report, meter, collector, runlog, stack.config, agent="user agent (kylecode byo)")


async def _awaited(awaitable: Awaitable[object]) -> object:
    return await awaitable


def _the_report(ctx: CellContext, value: object) -> AgentReport:
    try:
        if value is not None:
            return ctx.report(AgentReport.coerce(value))
    except InvalidReport as exc:
        raise CellFailure(f"the agent's report is invalid: {exc}") from None
    if ctx.reported is None:
        raise CellFailure(
            "the agent reported nothing: return an AgentReport from the factory, or call "
            "kylecode_cell.report(AgentReport(...)) in the test"
        )
    return ctx.reported


def agent_run(
    report: AgentReport,
    meter: TrafficMeter,
    collector: ProviderMetricsCollector,
    runlog: RunLog,
    config: AgentConfig,
    *,
    agent: str,
) -> AgentRun:
    """The ``AgentRun`` of an agent the harness measured from its traffic (``meter``) and that
    reported ``report``: the same result, metrics and run log as the runtime's. ``agent`` names it
    in the run directory."""
    steps = report.steps if report.steps is not None else meter.successes
    category = report.error_category
    if category is None and report.outcome == "loop_guard":
        category = LOOP_GUARD_CATEGORY
    elif category is None and report.outcome == "failed" and meter.last_error is not None:
        category = meter.last_error.category
    collector.set_completion(report.outcome, report.completion_reason, steps, category)
    metrics = collector.snapshot()
    message = report.error_message
    if report.exception is not None:
        described = _agent_error(report.exception)
        message = described if message is None or message in described else f"{message}: {described}"
    run = AgentRun(
        outcome=report.outcome,
        completion_reason=report.completion_reason,
        error_category=category,
        error_message=message,
        steps=steps,
        tool_sequence=report.tool_sequence,
        tool_errors=report.tool_errors,
        malformed_calls=sum(1 for r in report.tool_results if not r.get("executed", True)),
        tool_calls_paired=report.tool_calls_paired,
        final_route=meter.final_route,
        metrics=metrics,
    )
    runlog.set_metrics(metrics)
    runlog.set_info(
        outcome=run.outcome,
        completion_reason=run.completion_reason,
        error_category=category,
        error_message=run.error_message,
        steps=steps,
        final_route=run.final_route,
        route=config.route,
        streaming=config.streaming,
        tool_mode=config.tool_mode,
        agent=agent,
        tool_calls=[dict(c) for c in report.tool_calls],
    )
    run.runlog = runlog
    return run


def _describe(exc: BaseException) -> str:
    kind = type(exc)
    package = kind.__module__.split(".")[0]  # openai._exceptions.X -> openai.X, as users import it
    name = kind.__qualname__ if package == "builtins" else f"{package}.{kind.__qualname__}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: {text}" if text else name


def _agent_error(exc: BaseException) -> str:
    """An agent's exception as a failure shows it: type, message and where in the agent's own
    code it was raised (``ValueError: boom, raised at agent.py:12 in run: raise ...``)."""
    frame = _agent_frame(exc)
    where = f", raised at {_where(frame)}" if frame is not None else ""
    return f"{_describe(exc)}{where}"


def _where(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"


def _crash_message(ctx: CellContext, exc: BaseException, collector: ProviderMetricsCollector) -> str:
    lines = [f"cell {ctx.scenario}[{ctx.cell_id}]: the agent raised {_describe(exc)}"]
    frame = _agent_frame(exc)
    if frame is not None:
        lines.append(f"  raised at {_where(frame)}")
    snapshot = collector.snapshot()
    calls = []
    for route, stats in snapshot["routes"].items():
        errors = ", ".join(f"{k} {v}" for k, v in stats["errors"].items()) or "no errors"
        calls.append(
            f"{route}: {stats['calls']} call(s), {stats['successes']} ok, {errors}, {stats['retries']} retried"
        )
    lines.append("provider traffic: " + ("; ".join(calls) if calls else "no calls"))
    lines.append(
        "an agent must not crash on provider trouble: recover, or return "
        "AgentReport(outcome='failed', error_category=...)"
    )
    return "\n".join(lines)


def _agent_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of the user's own code (not the standard library, a package, the harness)."""
    return agent_frame(traceback.extract_tb(exc.__traceback__))
