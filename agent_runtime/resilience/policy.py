"""Recovery decisions: what to do after one failed call, per error category.

``RecoveryPolicy.decide`` maps (category, retries already spent, ``Retry-After``,
overrides already in force on the route) to a ``Decision``; it never sleeps and
never calls anything: ``ResilientModel`` carries the decision out. The rules are
``config.RecoveryRule`` values (``config.DEFAULT_RECOVERY`` unless the config
replaces a category).

Semantics (docs/design.md, recovery policy):

- ``retry``: up to ``max_retries`` re-sends to the same route. The wait before
  re-send ``n`` (0-based) is ``min(base * factor**n, max)`` reduced by a jitter
  fraction in ``[0, jitter)`` drawn from a ``random.Random`` seeded by the config
  seed and a SHA-256 of the route name (jitter only ever shortens the wait, so
  ``max`` is a true cap). With ``honor_retry_after`` a server ``Retry-After`` is
  waited *instead* of the backoff; one above ``backoff.max`` is not waited at all:
  ``then`` happens at once. With the budget spent, ``then`` happens. A rule with
  0 retries therefore does what its ``then`` says (never a silent failure).
- ``fallback`` / ``fail``: at once, whatever ``max_retries`` says.
- ``override_tools`` / ``override_stream``: switch the route to the text dialect /
  to non-streaming, then ``then`` (``retry`` = re-send once on the same route,
  not counted as a retry). If the override is already in force on the route the
  override did not help: the policy moves on (``fallback``, or ``fail`` when
  ``then`` is ``fail``).
- A ``then`` naming an override behaves as that override action.
- A ``then`` of ``retry`` after an exhausted ``retry`` budget would loop forever;
  it is read as ``fallback``.
- A category without a rule (``malformed_tool_call`` is not a transport error)
  fails.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from agent_runtime.config import DEFAULT_RECOVERY, Backoff, RecoveryRule

Step: TypeAlias = Literal["retry", "fallback", "fail"]
OverrideKind: TypeAlias = Literal["tools", "stream"]
# The actions ``_act`` carries out: a ``retry`` action never gets there (``decide`` handles it).
_NotRetry: TypeAlias = Literal["fallback", "fail", "override_tools", "override_stream"]

_OVERRIDE_OF: Final[dict[_NotRetry, OverrideKind]] = {"override_tools": "tools", "override_stream": "stream"}


@dataclass(frozen=True, slots=True)
class Decision:
    """One recovery step.

    ``override`` (if set) is applied to the route first; then ``step`` happens:
    ``retry`` re-sends to the same route after ``delay`` seconds (``counted`` says
    whether it is a policy retry for metrics: override re-sends are not),
    ``fallback`` moves to the next route, ``fail`` ends the run.
    """

    step: Step
    delay: float = 0.0
    counted: bool = False
    override: OverrideKind | None = None
    reason: str = ""


def stable_seed(seed: int, route: str) -> int:
    """A process-independent seed for ``route`` (``hash()`` is salted per process)."""
    digest = hashlib.sha256(f"{seed}\x00{route}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class RecoveryPolicy:
    """Recovery rules plus the per-route jitter generators of one run (no shared state)."""

    def __init__(self, rules: Mapping[str, RecoveryRule] | None = None, *, seed: int = 0) -> None:
        self.rules: Mapping[str, RecoveryRule] = DEFAULT_RECOVERY if rules is None else rules
        self.seed = seed
        self._rngs: dict[str, random.Random] = {}

    def backoff(self, route: str, backoff: Backoff, n: int) -> float:
        """Wait before re-send ``n`` (0-based) to ``route``; draws one jitter value when jitter > 0."""
        delay = min(backoff.base * backoff.factor**n, backoff.max)
        jitter = min(max(backoff.jitter, 0.0), 1.0)
        if jitter and delay > 0:
            rng = self._rngs.get(route)
            if rng is None:
                rng = self._rngs[route] = random.Random(stable_seed(self.seed, route))
            delay *= 1.0 - jitter * rng.random()
        return delay

    def decide(
        self,
        category: str,
        *,
        route: str,
        retries_done: int,
        retry_after: float | None = None,
        overrides_in_force: Collection[str] = (),
    ) -> Decision:
        """The next step after a call to ``route`` failed with ``category``.

        ``retries_done`` is how many counted re-sends this category already had on this
        route in the current turn; ``overrides_in_force`` holds ``"tools"``/``"stream"``.
        """
        rule = self.rules.get(category)
        if rule is None:
            return Decision("fail", reason=f"no recovery rule for {category}")
        if rule.action != "retry":
            return self._act(rule.action, rule, overrides_in_force, reason=rule.action)
        if retries_done >= rule.max_retries:
            return self._then(rule, overrides_in_force, reason=f"{rule.max_retries} retries spent")
        if rule.honor_retry_after and retry_after is not None:
            if retry_after > rule.backoff.max:
                why = f"Retry-After {retry_after:g}s exceeds backoff max {rule.backoff.max:g}s"
                return self._then(rule, overrides_in_force, reason=why)
            return Decision("retry", delay=max(retry_after, 0.0), counted=True, reason="Retry-After")
        return Decision("retry", delay=self.backoff(route, rule.backoff, retries_done), counted=True, reason="backoff")

    def _then(self, rule: RecoveryRule, overrides: Collection[str], *, reason: str) -> Decision:
        then = "fallback" if rule.then == "retry" else rule.then
        return self._act(then, rule, overrides, reason=f"{reason}, then {then}")

    @staticmethod
    def _act(action: _NotRetry, rule: RecoveryRule, overrides: Collection[str], *, reason: str) -> Decision:
        if action == "fallback" or action == "fail":
            return Decision(action, reason=reason)
        kind = _OVERRIDE_OF[action]
        if kind in overrides:
            # The override is already in force and the same failure came back: it did not help.
            step: Step = "fail" if rule.then == "fail" else "fallback"
            return Decision(step, reason=f"{kind} override already in force")
        follow = rule.then if rule.action == action else "retry"
        if follow == "fallback" or follow == "fail":
            return Decision(follow, override=kind, reason=f"{kind} override, then {follow}")
        # ``retry``, or a ``then`` naming an override: re-send once with this override applied.
        return Decision("retry", override=kind, reason=f"{kind} override, re-send once")
