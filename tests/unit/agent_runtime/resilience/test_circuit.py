from agent_runtime.clock import VirtualClock
from agent_runtime.config import CircuitConfig
from agent_runtime.errors import CATEGORIES
from agent_runtime.resilience.circuit import HEALTH_CATEGORIES, CircuitBreaker, is_health_failure

R = "openai/gpt-4o"


def breaker(threshold=3, cooldown=60.0):
    clock = VirtualClock()
    changes = []
    cb = CircuitBreaker(
        CircuitConfig(failure_threshold=threshold, cooldown_s=cooldown),
        clock,
        on_change=lambda route, state, turn: changes.append((route, state, turn)),
    )
    return cb, clock, changes


def test_opens_after_threshold_consecutive_failures():
    cb, _, changes = breaker(threshold=3)
    for turn in (1, 2):
        assert cb.allow(R, turn)
        cb.record(R, healthy=False, turn=turn)
        assert cb.state(R) == "closed"
    cb.record(R, healthy=False, turn=3)
    assert cb.state(R) == "open"
    assert changes == [(R, "open", 3)]
    assert cb.events == [{"route": R, "state": "open", "turn": 3}]


def test_success_resets_the_streak():
    cb, _, _ = breaker(threshold=2)
    cb.record(R, healthy=False, turn=1)
    cb.record(R, healthy=True, turn=1)
    cb.record(R, healthy=False, turn=2)
    assert cb.state(R) == "closed"


def test_open_circuit_is_skipped_and_skips_counted():
    cb, clock, _ = breaker(threshold=1, cooldown=60)
    cb.record(R, healthy=False, turn=1)
    clock.advance(59.9)
    assert not cb.allow(R, 2)
    assert not cb.allow(R, 3)
    assert cb.skips[R] == 2
    assert cb.allow("other/route", 3)  # breakers are per route


def test_circuit_half_opens_after_cooldown():
    # A predecessor opened for 15 minutes after one bad turn; ours half-opens on the clock.
    cb, clock, changes = breaker(threshold=1, cooldown=60)
    cb.record(R, healthy=False, turn=1)
    clock.advance(60)
    assert cb.allow(R, 4)  # the one trial
    assert cb.state(R) == "half_open"
    assert not cb.allow(R, 4)  # only ONE trial while it is out
    assert cb.skips[R] == 1
    cb.record(R, healthy=True, turn=4)
    assert cb.state(R) == "closed"
    assert [state for _, state, _ in changes] == ["open", "half_open", "closed"]
    assert changes[1] == (R, "half_open", 4)


def test_failed_half_open_trial_reopens_and_restarts_cooldown():
    cb, clock, changes = breaker(threshold=2, cooldown=10)
    cb.record(R, healthy=False, turn=1)
    cb.record(R, healthy=False, turn=1)
    clock.advance(10)
    assert cb.allow(R, 2)
    clock.advance(1)
    cb.record(R, healthy=False, turn=2)  # one failure suffices in half-open
    assert cb.state(R) == "open"
    clock.advance(9.5)
    assert not cb.allow(R, 3)  # cooldown counts from the re-open
    clock.advance(0.5)
    assert cb.allow(R, 3)
    assert [s for _, s, _ in changes] == ["open", "half_open", "open", "half_open"]


def test_healthy_path_allocates_nothing():
    cb, _, _ = breaker()
    cb.record(R, healthy=True, turn=1)
    assert cb._routes == {}


def test_only_health_categories_trip():
    assert is_health_failure("server_error") and is_health_failure("html_response")
    for category in ("auth", "bad_request", "tools_unsupported", "context_length", "content_filter", None):
        assert not is_health_failure(category)
    assert set(CATEGORIES) >= HEALTH_CATEGORIES
