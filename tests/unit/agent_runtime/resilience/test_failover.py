import pytest

from agent_runtime.errors import ConfigError
from agent_runtime.providers import PROVIDERS
from agent_runtime.resilience.failover import resolve_routes


def names(routes):
    return [r.name for r in routes]


def test_none_uses_the_providers_default_chain():
    assert names(resolve_routes("openai/gpt-4o", None)) == ["openai/gpt-4o", "openrouter/openai/gpt-4o"]
    assert names(resolve_routes("moonshot-anthropic/kimi-k2", None)) == [
        "moonshot-anthropic/kimi-k2",
        "moonshot/kimi-k2",
    ]
    assert names(resolve_routes("groq/llama-3.3", None)) == ["groq/llama-3.3"]  # no default chain


def test_every_default_chain_resolves():
    for provider in PROVIDERS.values():
        routes = resolve_routes(f"{provider.name}/m", None)
        assert names(routes)[1:] == [t.format(model="m") for t in provider.default_failover]


def test_explicit_list_honoured_exactly_in_order():
    routes = resolve_routes("anthropic/claude", ("groq/llama", "openai/gpt-4.1-mini", "openrouter/z-ai/glm-4.6"))
    assert names(routes) == ["anthropic/claude", "groq/llama", "openai/gpt-4.1-mini", "openrouter/z-ai/glm-4.6"]
    assert routes[3].provider.name == "openrouter" and routes[3].model == "z-ai/glm-4.6"


def test_primary_listed_is_skipped_and_duplicates_tried_once():
    routes = resolve_routes("openai/gpt-4o", ["openai/gpt-4o", "groq/x", "groq/x"])
    assert names(routes) == ["openai/gpt-4o", "groq/x"]


def test_empty_list_means_no_failover():
    assert names(resolve_routes("openai/gpt-4o", ())) == ["openai/gpt-4o"]
    assert names(resolve_routes("openai/gpt-4o", [])) == ["openai/gpt-4o"]


def test_unknown_provider_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown provider"):
        resolve_routes("opnai/gpt-4o", None)
    with pytest.raises(ConfigError):
        resolve_routes("openai/gpt-4o", ["nowhere/x"])
