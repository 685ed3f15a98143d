"""The provider registry and route names.

A route is ``provider/model`` (the model may itself contain ``/``, as in
``openrouter/z-ai/glm-4.6``); it is the one spelling used in config, metrics,
telemetry, cassette paths and test ids. A provider name selects exactly one
wire protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from agent_runtime.errors import ConfigError, did_you_mean

ProtocolName: TypeAlias = Literal["openai_chat", "anthropic_messages", "openai_responses"]
PROTOCOLS: Final[tuple[ProtocolName, ...]] = ("openai_chat", "anthropic_messages", "openai_responses")

# The endpoint of each protocol, appended to a provider's base URL.
ENDPOINT_SUFFIX: Final[dict[ProtocolName, str]] = {
    "openai_chat": "/chat/completions",
    "anthropic_messages": "/messages",
    "openai_responses": "/responses",
}


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    protocol: ProtocolName
    base_url: str
    auth_header: Literal["authorization", "x-api-key"]
    key_env: str
    # Routes tried when the primary fails and the config names no failover list;
    # ``{model}`` is replaced by the primary route's model.
    default_failover: tuple[str, ...] = ()

    @property
    def base_url_env(self) -> str:
        return "KYLECODE_" + self.name.upper().replace("-", "_") + "_BASE_URL"

    def resolved_base_url(self, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        return (env.get(self.base_url_env) or self.base_url).rstrip("/")

    def endpoint(self, env: Mapping[str, str] | None = None) -> str:
        return self.resolved_base_url(env) + ENDPOINT_SUFFIX[self.protocol]

    def canonical_endpoint(self) -> str:
        """The endpoint without any base-URL override (what cassettes store)."""
        return self.base_url.rstrip("/") + ENDPOINT_SUFFIX[self.protocol]

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if key:
            if self.auth_header == "authorization":
                headers["authorization"] = f"Bearer {key}"
            else:
                headers["x-api-key"] = key
        if self.protocol == "anthropic_messages":
            headers["anthropic-version"] = "2023-06-01"
        return headers


PROVIDERS: Final[dict[str, Provider]] = {
    p.name: p
    for p in (
        Provider(
            "openai",
            "openai_chat",
            "https://api.openai.com/v1",
            "authorization",
            "OPENAI_API_KEY",
            ("openrouter/openai/{model}",),
        ),
        Provider(
            "openai-responses",
            "openai_responses",
            "https://api.openai.com/v1",
            "authorization",
            "OPENAI_API_KEY",
            ("openai/{model}",),
        ),
        Provider(
            "anthropic",
            "anthropic_messages",
            "https://api.anthropic.com/v1",
            "x-api-key",
            "ANTHROPIC_API_KEY",
            ("openrouter/anthropic/{model}",),
        ),
        Provider("openrouter", "openai_chat", "https://openrouter.ai/api/v1", "authorization", "OPENROUTER_API_KEY"),
        Provider(
            "deepseek",
            "openai_chat",
            "https://api.deepseek.com",
            "authorization",
            "DEEPSEEK_API_KEY",
            ("openrouter/deepseek/{model}",),
        ),
        Provider(
            "deepseek-anthropic",
            "anthropic_messages",
            "https://api.deepseek.com/anthropic/v1",
            "x-api-key",
            "DEEPSEEK_API_KEY",
            ("deepseek/{model}",),
        ),
        Provider(
            "zai",
            "openai_chat",
            "https://api.z.ai/api/paas/v4",
            "authorization",
            "ZAI_API_KEY",
            ("openrouter/z-ai/{model}",),
        ),
        Provider(
            "moonshot",
            "openai_chat",
            "https://api.moonshot.ai/v1",
            "authorization",
            "MOONSHOT_API_KEY",
            ("openrouter/moonshotai/{model}",),
        ),
        Provider(
            "moonshot-anthropic",
            "anthropic_messages",
            "https://api.moonshot.ai/anthropic/v1",
            "authorization",
            "MOONSHOT_API_KEY",
            ("moonshot/{model}",),
        ),
        Provider("groq", "openai_chat", "https://api.groq.com/openai/v1", "authorization", "GROQ_API_KEY"),
        Provider("mistral", "openai_chat", "https://api.mistral.ai/v1", "authorization", "MISTRAL_API_KEY"),
    )
}


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    model: str

    @property
    def name(self) -> str:
        return f"{self.provider.name}/{self.model}"

    @property
    def protocol(self) -> ProtocolName:
        return self.provider.protocol

    def __str__(self) -> str:
        return self.name


def parse_route(text: object) -> Route:
    """``"openrouter/z-ai/glm-4.6"`` -> Route(openrouter, "z-ai/glm-4.6"); unknown providers are a ConfigError."""
    if not isinstance(text, str) or "/" not in text:
        raise ConfigError(f"a route is 'provider/model', got {text!r}")
    provider_name, model = text.split("/", 1)
    provider = PROVIDERS.get(provider_name)
    if provider is None:
        raise ConfigError(
            f"unknown provider {provider_name!r} in route {text!r}{did_you_mean(provider_name, PROVIDERS)}; "
            f"known providers: {', '.join(PROVIDERS)}"
        )
    if not model:
        raise ConfigError(f"route {text!r} names no model")
    return Route(provider, model)
