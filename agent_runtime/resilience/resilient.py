"""``ResilientModel``: retry, circuit breaker, failover and overrides around ``ProviderClient``.

It implements ``model.Model``. For one turn it walks the routes of
``failover.resolve_routes`` in order (the primary first):

1. A route whose circuit is open is skipped (counted; ``[circuit-open]`` in the
   run log). Arriving at a route after leaving another is a *fallback*
   ``{from, to, reason, turn}`` (``reason``: the category that made us leave, or
   ``circuit_open``).
2. The request is built with ``dialect.prepare_request`` in that route's
   effective tool mode (``config.tool_mode`` unless a tools override switched the
   route to the text dialect) and stream mode (``config.streaming`` unless a
   stream override switched it off), and sent with ``client.call(route, request)``.
3. Every call is recorded (metrics, run log) and reported to the circuit.
4. A failure goes to ``RecoveryPolicy.decide``: apply the override it names, then
   retry (sleeping on the clock, never ``time.sleep``), fall back, or fail.
   The retry budget is per category, per route, per turn. A failed half-open trial
   is the route's ONE trial: it is not retried, the turn moves on; and a circuit that
   opens mid-turn ends the route's retries there (an open circuit takes no call).

When no route is left the turn raises ``RunFailed`` with the category of the last
error (docs/design.md, recovery policy). All state lives on the instance: two models never
share a circuit, a jitter stream or an override.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from agent_runtime.clock import Clock
from agent_runtime.config import AgentConfig
from agent_runtime.dialect import prepare_request
from agent_runtime.errors import ConfigError, ProviderError, RunFailed
from agent_runtime.loop.model import ModelTurn
from agent_runtime.messages import Message, ModelRequest, ToolMode, ToolSpec
from agent_runtime.observe.metrics import Attempt, ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.providers import Route
from agent_runtime.resilience.circuit import CircuitBreaker, State, is_health_failure
from agent_runtime.resilience.failover import resolve_routes
from agent_runtime.resilience.policy import OverrideKind, RecoveryPolicy
from agent_runtime.wire.client import CallRecord


class RouteCaller(Protocol):
    """What ``ResilientModel`` needs of ``provider_client.ProviderClient``."""

    def call(self, route: Route, request: ModelRequest) -> CallRecord: ...


class ResilientModel:
    """A ``Model`` over HTTP routes with recovery; see the module docstring for the contract."""

    def __init__(
        self,
        client: RouteCaller,
        config: AgentConfig,
        *,
        clock: Clock,
        metrics: ProviderMetricsCollector,
        runlog: RunLog | None = None,
    ) -> None:
        if not config.route:
            raise ConfigError("no route configured: set 'route: provider/model'", key="route")
        self.client = client
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.runlog = runlog
        self.routes: list[Route] = resolve_routes(config.route, config.failover)
        self.policy = RecoveryPolicy(config.recovery, seed=config.seed)
        self.circuit = CircuitBreaker(config.circuit, clock, on_change=self._circuit_changed)
        self.overrides: dict[str, set[OverrideKind]] = {}
        self.last_error: ProviderError | None = None
        self._answered_broken = False  # the last response had tool calls whose arguments did not parse

    # -- overrides ----------------------------------------------------------------------------

    def apply_override(self, route: str, kind: OverrideKind, reason: str, turn: int = 0) -> bool:
        """Switch ``route`` to the text dialect (``kind="tools"``) or off streaming (``"stream"``).

        Returns False (and records nothing) when the override is already in force.
        """
        active = self.overrides.setdefault(route, set())
        if kind in active:
            return False
        active.add(kind)
        self.metrics.record_override(route, kind, reason)
        if self.runlog is not None:
            what = "text dialect" if kind == "tools" else "no streaming"
            self.runlog.note(turn, f"{route} switched to {what} ({reason})", "override")
        return True

    def tool_mode(self, route: str) -> ToolMode:
        if self.config.tool_mode == "text" or "tools" in self.overrides.get(route, ()):
            return "text"
        return "native"

    def streaming(self, route: str) -> bool:
        return self.config.streaming and "stream" not in self.overrides.get(route, ())

    def _in_force(self, route: str) -> set[OverrideKind]:
        # A route configured for text / no streaming behaves as if the override were applied.
        active = set(self.overrides.get(route, ()))
        if self.config.tool_mode == "text":
            active.add("tools")
        if not self.config.streaming:
            active.add("stream")
        return active

    # -- the Model protocol ---------------------------------------------------------------------

    def complete(self, conversation: list[Message], tools: list[ToolSpec], turn: int) -> ModelTurn:
        """One successful response for ``turn``, or ``RunFailed`` when recovery is exhausted."""
        attempt_no = 0
        left: tuple[str, str] | None = None  # (route we moved away from, why)
        for index, route in enumerate(self.routes):
            name = route.name
            if not self.circuit.allow(name, turn):
                self.metrics.record_circuit_skip(name)
                self._note(turn, f"{name} skipped: circuit open", "circuit-open")
                left = (name, "circuit_open")
                continue
            if left is not None:
                self.metrics.record_fallback(left[0], name, left[1], turn)
                self._note(turn, f"{left[0]} -> {name} ({left[1]})", "fallback")
            trial = self.circuit.state(name) == "half_open"
            retries: Counter[str] = Counter()
            is_retry = False
            while True:
                mode = self.tool_mode(name)
                request = prepare_request(
                    conversation, tools, mode, stream=self.streaming(name), max_tokens=self.config.max_tokens
                )
                record = self.client.call(route, request)
                if record.error is None and record.response is None:  # a client bug, never a silent success
                    record.error = ProviderError("empty_response", "call returned neither response nor error")
                # The loop answered the previous turn's malformed tool calls with error results and
                # went on: this turn's first call carries that broken answer forward.
                carried = attempt_no == 0 and self._answered_broken
                attempt_no += 1
                self._record(
                    Attempt(
                        record,
                        turn,
                        attempt_no,
                        retry=is_retry,
                        fallback=index > 0,
                        tool_mode=mode,
                        accepted_broken_response=carried,
                    )
                )
                error = record.error
                if error is None:
                    assert record.response is not None
                    self.circuit.record(name, healthy=True, turn=turn)
                    self._answered_broken = any(call.parse_error for call in record.response.tool_calls)
                    return ModelTurn(record.response, name, mode)
                health_failure = is_health_failure(error.category)
                self.circuit.record(name, healthy=not health_failure, turn=turn)
                self.last_error = error
                decision = self.policy.decide(
                    error.category,
                    route=name,
                    retries_done=retries[error.category],
                    retry_after=error.retry_after,
                    overrides_in_force=self._in_force(name),
                )
                if decision.override is not None:
                    self.apply_override(name, decision.override, error.category, turn)
                if decision.step == "fail":
                    raise RunFailed(error.category, f"{name}: {error.message} (recovery: {decision.reason})")
                # An open circuit means no more calls to this route, a retry budget under way included.
                if decision.step == "fallback" or (trial and health_failure) or self.circuit.state(name) == "open":
                    left = (name, error.category)
                    break
                if decision.counted:
                    retries[error.category] += 1
                    self._note(
                        turn,
                        f"{error.category} on {name}: retry {retries[error.category]} after "
                        f"{decision.delay:.3f} s ({decision.reason})",
                        "retry",
                    )
                is_retry = decision.counted
                self.clock.sleep(decision.delay)
        last = self.last_error
        # Every route was left or skipped, and a circuit only opens after a recorded error.
        assert last is not None and left is not None
        raise RunFailed(last.category, f"no route left after {left[0]}: {last.message}")

    # -- recording ----------------------------------------------------------------------------

    def _record(self, attempt: Attempt) -> None:
        self.metrics.record_attempt(attempt)
        if self.runlog is not None:
            self.runlog.record_attempt(attempt)

    def _note(self, turn: int, text: str, mark: str | None = None) -> None:
        if self.runlog is not None:
            self.runlog.note(turn, text, mark)

    def _circuit_changed(self, route: str, state: State, turn: int) -> None:
        self.metrics.record_circuit_event(route, state, turn)
        self._note(turn, f"circuit of {route} is now {state}", "circuit-open" if state == "open" else "circuit")
