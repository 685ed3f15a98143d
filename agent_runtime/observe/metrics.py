"""Provider metrics of one run and their deterministic snapshot (docs/design.md, metrics snapshot).

Every call counts, retries included: ``calls == successes + errors`` in the
summary and ``calls == successes + sum(errors.values())`` per route. Routes are
keyed by the one route spelling, ``provider/model`` (``CallRecord.route``); a
predecessor keyed some calls by model and others by route and dropped retried
calls, so both numbers disagreed.

Percentiles use the nearest-rank definition: for ``n`` sorted samples the
``p``-th percentile is the sample at 1-based rank ``ceil(p/100 * n)``. It always
returns an observed value, needs no interpolation and is exact on small samples.
Values are rounded to 0.1 ms; a route without samples reports ``null``s.

Recording is cheap (appends and counters, no copies of bodies); the snapshot is
computed on demand.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, TypedDict

from agent_runtime.messages import JSONObject
from agent_runtime.wire.client import CallRecord

SCHEMA: Final = 1

# What the snapshot's lists and ``completion`` hold (``from`` is a keyword: the functional form).
FallbackEvent = TypedDict("FallbackEvent", {"from": str, "to": str, "reason": str, "turn": int})


class CircuitChange(TypedDict):
    route: str
    state: str
    turn: int


class OverrideEvent(TypedDict):
    route: str
    kind: str
    reason: str


class Completion(TypedDict):
    outcome: str | None
    reason: str | None
    steps: int
    error_category: str | None


@dataclass(slots=True)
class Attempt:
    """One call as the resilience layer made it: the record plus where it sat in the run.

    ``attempt`` is 1-based within ``turn`` across all routes; ``retry`` marks a policy
    re-send to the same route; ``fallback`` marks a call on a route other than the one
    the turn started on; ``accepted_broken_response`` marks the first call of a turn that
    carries a broken answer forward (a failed or faulted call the agent went on from instead
    of asking again: not a retry). Metrics, run logs and telemetry all read this one object.
    """

    record: CallRecord
    turn: int
    attempt: int
    retry: bool = False
    fallback: bool = False
    tool_mode: str = "native"
    accepted_broken_response: bool = False


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty ascending list."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(values: list[float]) -> dict[str, float | None]:
    """``{p50, p95, max}`` of ``values`` (any order), rounded to 0.1; ``None`` s when empty."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {
        "p50": round(percentile(ordered, 50), 1),
        "p95": round(percentile(ordered, 95), 1),
        "max": round(ordered[-1], 1),
    }


@dataclass(slots=True)
class _RouteStats:
    calls: int = 0
    successes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    accepted_broken_responses: int = 0
    stream_calls: int = 0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    circuit: str = "closed"


class ProviderMetricsCollector:
    """Counts every call of one run; ``snapshot()`` is the JSON-ready shape of docs/design.md (metrics snapshot)."""

    def __init__(self) -> None:
        self._routes: dict[str, _RouteStats] = {}
        self.fallbacks: list[FallbackEvent] = []
        self.circuit_events: list[CircuitChange] = []
        self.overrides: list[OverrideEvent] = []
        self.circuit_skips = 0
        self.completion: Completion = {"outcome": None, "reason": None, "steps": 0, "error_category": None}

    def _route(self, route: str) -> _RouteStats:
        stats = self._routes.get(route)
        if stats is None:
            stats = self._routes[route] = _RouteStats()
        return stats

    # -- recording (called by ResilientModel / probes / runner) ------------------------------

    def record_attempt(self, attempt: Attempt) -> None:
        record = attempt.record
        stats = self._route(record.route)
        stats.calls += 1
        if attempt.retry:
            stats.retries += 1
        if attempt.accepted_broken_response:
            stats.accepted_broken_responses += 1
        if record.stream:
            stats.stream_calls += 1
        stats.latencies.append(record.latency_ms)
        if record.ttft_ms is not None:
            stats.ttfts.append(record.ttft_ms)
        if record.error is not None:
            stats.errors[record.error.category] += 1
        else:
            stats.successes += 1
            if record.response is not None:
                stats.input_tokens += record.response.usage.input_tokens
                stats.output_tokens += record.response.usage.output_tokens

    def record_fallback(self, from_route: str, to_route: str, reason: str, turn: int) -> None:
        self.fallbacks.append({"from": from_route, "to": to_route, "reason": reason, "turn": turn})

    def record_circuit_event(self, route: str, state: str, turn: int) -> None:
        self._route(route).circuit = state
        self.circuit_events.append({"route": route, "state": state, "turn": turn})

    def record_circuit_skip(self, route: str) -> None:
        self._route(route)
        self.circuit_skips += 1

    def record_override(self, route: str, kind: str, reason: str) -> None:
        self.overrides.append({"route": route, "kind": kind, "reason": reason})

    def set_completion(self, outcome: str | None, reason: str | None, steps: int, error_category: str | None) -> None:
        self.completion = {"outcome": outcome, "reason": reason, "steps": steps, "error_category": error_category}

    # -- reading -----------------------------------------------------------------------------

    @property
    def retries(self) -> int:
        return sum(s.retries for s in self._routes.values())

    def snapshot(self) -> JSONObject:
        """The metrics as plain JSON data; equal runs give equal snapshots.

        Mappings (``routes``, ``errors``) are emitted with sorted keys; the lists
        (``fallbacks``, ``circuit_events``, ``overrides``) keep the order things happened.
        """
        routes: dict[str, JSONObject] = {}
        summary = Counter[str]()
        for name in sorted(self._routes):
            s = self._routes[name]
            errors = sum(s.errors.values())
            routes[name] = {
                "calls": s.calls,
                "successes": s.successes,
                "errors": dict(sorted(s.errors.items())),
                "retries": s.retries,
                "accepted_broken_responses": s.accepted_broken_responses,
                "stream_calls": s.stream_calls,
                "latency_ms": distribution(s.latencies),
                "ttft_ms": distribution(s.ttfts),
                "input_tokens": s.input_tokens,
                "output_tokens": s.output_tokens,
                "circuit": s.circuit,
            }
            summary.update(
                calls=s.calls,
                successes=s.successes,
                errors=errors,
                retries=s.retries,
                accepted_broken_responses=s.accepted_broken_responses,
                html_errors=s.errors["html_response"],
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
            )
        kinds = Counter(o["kind"] for o in self.overrides)
        return {
            "schema": SCHEMA,
            "summary": {
                "calls": summary["calls"],
                "successes": summary["successes"],
                "errors": summary["errors"],
                "html_errors": summary["html_errors"],
                "retries": summary["retries"],
                "accepted_broken_responses": summary["accepted_broken_responses"],
                "fallbacks": len(self.fallbacks),
                "circuit_opens": sum(1 for e in self.circuit_events if e["state"] == "open"),
                "circuit_skips": self.circuit_skips,
                "stream_overrides": kinds["stream"],
                "tool_overrides": kinds["tools"],
                "input_tokens": summary["input_tokens"],
                "output_tokens": summary["output_tokens"],
            },
            "routes": routes,
            "fallbacks": [dict(f) for f in self.fallbacks],
            "circuit_events": [dict(e) for e in self.circuit_events],
            "overrides": [dict(o) for o in self.overrides],
            "completion": dict(self.completion),
        }
