import pytest

from agent_runtime.config import DEFAULT_RECOVERY, Backoff, RecoveryRule
from agent_runtime.resilience.policy import Decision, RecoveryPolicy, stable_seed

NO_JITTER = Backoff(base=0.5, factor=2.0, max=8.0, jitter=0.0)


def test_retry_backoff_grows_then_is_capped():
    policy = RecoveryPolicy({"server_error": RecoveryRule("retry", max_retries=6, backoff=NO_JITTER, then="fallback")})
    delays = [policy.decide("server_error", route="openai/gpt-4o", retries_done=n).delay for n in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_retry_budget_spent_takes_then():
    policy = RecoveryPolicy({"server_error": RecoveryRule("retry", max_retries=2, backoff=NO_JITTER, then="fail")})
    assert policy.decide("server_error", route="a/b", retries_done=1).step == "retry"
    assert policy.decide("server_error", route="a/b", retries_done=1).counted
    spent = policy.decide("server_error", route="a/b", retries_done=2)
    assert spent.step == "fail" and "2 retries spent" in spent.reason


def test_jitter_is_seeded_by_config_seed_and_route_and_only_shortens():
    rules = {"rate_limit": RecoveryRule("retry", max_retries=3, backoff=Backoff(1.0, 2.0, 8.0, 0.5))}
    one = [
        RecoveryPolicy(rules, seed=7).decide("rate_limit", route="openai/gpt-4o", retries_done=n).delay
        for n in range(3)
    ]
    again = [
        RecoveryPolicy(rules, seed=7).decide("rate_limit", route="openai/gpt-4o", retries_done=n).delay
        for n in range(3)
    ]
    other_seed = [
        RecoveryPolicy(rules, seed=8).decide("rate_limit", route="openai/gpt-4o", retries_done=n).delay
        for n in range(3)
    ]
    other_route = [
        RecoveryPolicy(rules, seed=7).decide("rate_limit", route="groq/llama", retries_done=n).delay for n in range(3)
    ]
    assert one == again
    assert one != other_seed and one != other_route
    for n, delay in enumerate(one):
        nominal = min(2.0**n, 8.0)
        assert nominal * 0.5 < delay <= nominal


def test_stable_seed_does_not_depend_on_python_hash():
    # hash() of a str is salted per process; the jitter seed must be the same in every process.
    import os
    import subprocess
    import sys

    code = "from agent_runtime.resilience.policy import stable_seed; print(stable_seed(3, 'openrouter/z-ai/glm-4.6'))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(salt)},
        ).stdout
        for salt in (1, 2)
    }
    assert outs == {f"{stable_seed(3, 'openrouter/z-ai/glm-4.6')}\n"}
    assert stable_seed(3, "a/b") != stable_seed(4, "a/b")


def test_retry_after_is_waited_instead_of_backoff():
    policy = RecoveryPolicy(DEFAULT_RECOVERY)
    decision = policy.decide("rate_limit", route="openai/gpt-4o", retries_done=0, retry_after=3.0)
    assert decision == Decision("retry", delay=3.0, counted=True, reason="Retry-After")


def test_retry_after_above_backoff_max_takes_then_at_once():
    policy = RecoveryPolicy(DEFAULT_RECOVERY)
    decision = policy.decide("rate_limit", route="openai/gpt-4o", retries_done=0, retry_after=30.0)
    assert decision.step == "fallback" and decision.delay == 0
    assert "exceeds backoff max" in decision.reason


def test_retry_after_ignored_without_honor_flag():
    rule = RecoveryRule("retry", max_retries=1, backoff=NO_JITTER, honor_retry_after=False, then="fallback")
    decision = RecoveryPolicy({"rate_limit": rule}).decide("rate_limit", route="a/b", retries_done=0, retry_after=30.0)
    assert decision.step == "retry" and decision.delay == 0.5


@pytest.mark.parametrize("then", ["fallback", "fail"])
def test_zero_retries_does_what_the_rule_says(then):
    # A predecessor's zero-retry rule failed instead of doing its action.
    policy = RecoveryPolicy(
        {
            "server_error": RecoveryRule("retry", max_retries=0, then=then),
            "html_response": RecoveryRule("fallback", max_retries=0, then="fallback"),
        }
    )
    assert policy.decide("server_error", route="a/b", retries_done=0).step == then
    assert policy.decide("html_response", route="a/b", retries_done=0).step == "fallback"


def test_fallback_and_fail_actions_ignore_max_retries():
    policy = RecoveryPolicy(
        {"html_response": RecoveryRule("fallback", max_retries=3), "auth": RecoveryRule("fail", max_retries=3)}
    )
    assert policy.decide("html_response", route="a/b", retries_done=0).step == "fallback"
    assert policy.decide("auth", route="a/b", retries_done=0).step == "fail"


def test_override_tools_then_retry_once_on_same_route_uncounted():
    policy = RecoveryPolicy(DEFAULT_RECOVERY)
    first = policy.decide("tools_unsupported", route="openrouter/x/y", retries_done=0)
    assert first == Decision("retry", override="tools", counted=False, reason="tools override, re-send once")
    again = policy.decide("tools_unsupported", route="openrouter/x/y", retries_done=0, overrides_in_force={"tools"})
    assert again.step == "fallback" and again.override is None


def test_override_stream_with_then_fallback_and_fail():
    policy = RecoveryPolicy(
        {
            "stream_error": RecoveryRule("override_stream", then="fallback"),
            "stream_truncated": RecoveryRule("override_stream", then="fail"),
        }
    )
    assert policy.decide("stream_error", route="a/b", retries_done=0) == Decision(
        "fallback", override="stream", reason="stream override, then fallback"
    )
    assert policy.decide("stream_truncated", route="a/b", retries_done=0, overrides_in_force={"stream"}).step == "fail"


def test_retry_then_override_stream_after_budget():
    policy = RecoveryPolicy(
        {"stream_truncated": RecoveryRule("retry", max_retries=1, backoff=NO_JITTER, then="override_stream")}
    )
    assert policy.decide("stream_truncated", route="a/b", retries_done=0).step == "retry"
    spent = policy.decide("stream_truncated", route="a/b", retries_done=1)
    assert spent.step == "retry" and spent.override == "stream" and not spent.counted


def test_then_retry_after_spent_retries_does_not_loop():
    policy = RecoveryPolicy({"server_error": RecoveryRule("retry", max_retries=1, then="retry")})
    assert policy.decide("server_error", route="a/b", retries_done=1).step == "fallback"


def test_category_without_rule_fails():
    assert RecoveryPolicy(DEFAULT_RECOVERY).decide("malformed_tool_call", route="a/b", retries_done=0).step == "fail"


def test_default_table_matches_design():
    policy = RecoveryPolicy()
    steps = {c: policy.decide(c, route="a/b", retries_done=0).step for c in DEFAULT_RECOVERY}
    assert {c for c, s in steps.items() if s == "fail"} == {
        "auth",
        "bad_request",
        "not_found",
        "context_length",
        "content_filter",
    }
    assert steps["html_response"] == "fallback"
    budgets = {c: r.max_retries for c, r in DEFAULT_RECOVERY.items() if r.action == "retry"}
    assert budgets.pop("rate_limit") == 3 and budgets.pop("overloaded") == 2
    assert set(budgets.values()) == {1}
    assert all(
        policy.decide(c, route="a/b", retries_done=DEFAULT_RECOVERY[c].max_retries).step == "fallback"
        for c in ("rate_limit", "overloaded", "server_error", "stream_error")
    )
