"""Per-route circuit breaker on an injected clock.

States: ``closed`` -> ``open`` after ``failure_threshold`` consecutive failures
-> after ``cooldown_s`` (clock time) exactly ONE half-open trial is let through
-> ``closed`` when the trial succeeds, ``open`` again (cooldown restarts) when it
fails. While open (or while the trial is out) the route is skipped and the skip
is counted. Every transition is reported to ``on_change(route, state, turn)``
and kept in ``events`` as ``{"route", "state", "turn"}``.

Only *health* failures count (``HEALTH_CATEGORIES``): a 400, a bad key, a
context-length error or a refused ``tools`` field prove the route answered, so
they reset the failure streak like a success does. Tripping on them would skip a
healthy route for the rest of the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, TypedDict

from agent_runtime.clock import Clock
from agent_runtime.config import CircuitConfig
from agent_runtime.errors import ROUTE_FAILURES

State: TypeAlias = Literal["closed", "open", "half_open"]


class CircuitEvent(TypedDict):
    route: str
    state: State
    turn: int


HEALTH_CATEGORIES: Final = frozenset(ROUTE_FAILURES)


def is_health_failure(category: str | None) -> bool:
    return category in HEALTH_CATEGORIES


@dataclass(slots=True)
class _RouteState:
    state: State = "closed"
    failures: int = 0
    opened_at: float = 0.0
    trial_out: bool = False


class CircuitBreaker:
    """The breakers of one run, one per route name (no state shared between runs)."""

    def __init__(
        self,
        config: CircuitConfig,
        clock: Clock,
        on_change: Callable[[str, State, int], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_change = on_change
        self.events: list[CircuitEvent] = []
        self.skips: Counter[str] = Counter()
        self._routes: dict[str, _RouteState] = {}

    def state(self, route: str) -> State:
        rs = self._routes.get(route)
        return rs.state if rs else "closed"

    def allow(self, route: str, turn: int) -> bool:
        """May a call go to ``route`` now? ``False`` is a counted skip.

        An open circuit whose cooldown has elapsed becomes half-open and lets this one
        call through as its trial; until that trial reports back, the route stays skipped.
        """
        rs = self._routes.get(route)
        if rs is None or rs.state == "closed":
            return True
        if rs.state == "open" and self.clock.now() - rs.opened_at >= self.config.cooldown_s:
            self._move(route, rs, "half_open", turn)
        if rs.state == "half_open" and not rs.trial_out:
            rs.trial_out = True
            return True
        self.skips[route] += 1
        return False

    def record(self, route: str, *, healthy: bool, turn: int) -> None:
        """Report the outcome of a call to ``route``: ``healthy`` is False only for a health failure."""
        rs = self._routes.get(route)
        if rs is None:
            if healthy:
                return  # the common path: a closed circuit with no streak costs no allocation
            rs = self._routes[route] = _RouteState()
        rs.trial_out = False
        if healthy:
            rs.failures = 0
            if rs.state != "closed":
                self._move(route, rs, "closed", turn)
            return
        rs.failures += 1
        if rs.state == "half_open" or (rs.state == "closed" and rs.failures >= self.config.failure_threshold):
            rs.opened_at = self.clock.now()
            self._move(route, rs, "open", turn)

    def _move(self, route: str, rs: _RouteState, state: State, turn: int) -> None:
        rs.state = state
        self.events.append({"route": route, "state": state, "turn": turn})
        if self.on_change is not None:
            self.on_change(route, state, turn)
