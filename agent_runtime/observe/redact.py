"""THE redaction module: everything that leaves the process goes through here.

Run logs, vendor bundles, telemetry and cassettes redact with these functions
and nothing else, so one list of secret names and one set of key patterns
protects every artifact:

- ``redact_headers``: values of credential headers (``authorization``,
  ``x-api-key``, ``cookie``, ...) become ``[REDACTED]`` (an ``authorization``
  value keeps its scheme: ``Bearer [REDACTED]``);
- ``redact_url``: credential query parameters (``key``, ``api_key``, ``token``, ...);
- ``redact_json``: values of credential fields at any depth of a JSON document,
  plus key-shaped values inside any string;
- ``redact_text``: key-shaped values anywhere (``sk-...``, ``sk-ant-...``,
  ``sk-or-v1-...``, ``gsk_...``, ``AIza...``, ``Bearer ...``) and every literal
  value of the provider key variables present in the environment;
- ``redact_fragments``: pieces (8+ characters) of those literal values, for streams
  that carry a key cut into deltas;
- ``find_secrets``: what ``redact_text`` would remove, for callers that must
  refuse to write when something key-shaped survived.

Field names are matched exactly (case-insensitive): ``max_tokens`` or
``input_tokens`` are counts, not tokens, and must survive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK: Final = "[REDACTED]"

SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "x-auth-token",
        "x-access-token",
        "anthropic-admin-key",
    }
)
SECRET_QUERY: Final = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "auth",
        "secret",
        "signature",
        "sig",
        "password",
        "client_secret",
        "code",
    }
)
SECRET_FIELDS: Final = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "authorization",
        "cookie",
        "private_key",
    }
)

# Key-shaped values. Prefix-anchored so ordinary words ("risk-free", "task-list") never match.
_KEY_PATTERN: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"sk-[A-Za-z0-9_\-]{8,}"  # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), OpenRouter (sk-or-v1-), DeepSeek
    r"|gsk_[A-Za-z0-9]{8,}"  # Groq
    r"|AIza[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])"  # Google API keys (exact length: base64 text is no key)
    r"|xai-[A-Za-z0-9]{16,}"  # xAI
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens (they end up in tool output)
    r")"
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=\-]{8,}",  # any bearer token
)

# Environment variables whose literal values are secrets wherever they appear.
_EXTRA_KEY_ENVS: Final = ("KYLECODE_API_KEY", "AZURE_OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "XAI_API_KEY")
_MASKED: Final = re.compile(r"(?:[A-Za-z]+ )?" + re.escape(MASK))
_MIN_LITERAL: Final = 8  # a 3-character "key" would redact half the transcript


def key_env_names() -> tuple[str, ...]:
    from agent_runtime.providers import PROVIDERS

    return tuple(sorted({p.key_env for p in PROVIDERS.values()} | set(_EXTRA_KEY_ENVS)))


def _env_secrets(env: Mapping[str, str] | None) -> tuple[str, ...]:
    env = os.environ if env is None else env
    values = {env.get(name, "") for name in key_env_names()}
    # Longest first so a key that contains another is removed whole.
    return tuple(sorted((v for v in values if len(v) >= _MIN_LITERAL), key=lambda v: (-len(v), v)))


@lru_cache(maxsize=32)
def _literal_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(re.escape, secrets))) if secrets else None


def redact_text(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with key-shaped values and environment key values replaced by ``[REDACTED]``."""
    literal = _literal_pattern(_env_secrets(env))
    if literal is not None:
        text = literal.sub(MASK, text)
    return _KEY_PATTERN.sub(MASK, text)


_MIN_FRAGMENT: Final = 8


def redact_fragments(text: str, env: Mapping[str, str] | None = None) -> str:
    """Every run of at least 8 characters of a key variable's value -> ``[REDACTED]``.

    A key a model streams back arrives cut into deltas (``"sk"``, ``"-"``, ``"ant"``, ``"-"``,
    ``"CANARY9f3c..."``), so no event holds the whole value and ``redact_text`` sees none of it:
    raw stream excerpts and recorded events need this as well. Every occurrence is masked.
    """
    for key in _env_secrets(env):
        i = 0
        while i + _MIN_FRAGMENT <= len(key):
            window, pos = key[i : i + _MIN_FRAGMENT], 0
            while (at := text.find(window, pos)) >= 0:
                start, key_start = at, i
                while start > 0 and key_start > 0 and text[start - 1] == key[key_start - 1]:
                    start, key_start = start - 1, key_start - 1
                end, key_end = at + _MIN_FRAGMENT, i + _MIN_FRAGMENT
                while end < len(text) and key_end < len(key) and text[end] == key[key_end]:
                    end, key_end = end + 1, key_end + 1
                text = text[:start] + MASK + text[end:]
                pos = start + len(MASK)
            i += 1
    return text


def find_secrets(text: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Secrets still present in ``text`` (environment key values and key-shaped values), in order found."""
    found: list[str] = []
    literal = _literal_pattern(_env_secrets(env))
    if literal is not None:
        found.extend(m.group(0) for m in literal.finditer(text))
    found.extend(m.group(0) for m in _KEY_PATTERN.finditer(text) if m.group(0) not in found)
    return found


def redact_header_value(name: str, value: str, env: Mapping[str, str] | None = None) -> str:
    lowered = name.lower()
    if lowered in SECRET_HEADERS:
        scheme, sep, _ = value.partition(" ")
        if lowered in ("authorization", "proxy-authorization") and sep and scheme.isalpha():
            return f"{scheme} {MASK}"
        return MASK
    return redact_text(value, env)


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A new dict: credential headers masked, other values scanned for key-shaped text."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: redact_header_value(name, value, env) for name, value in items}


def redact_url(url: str, env: Mapping[str, str] | None = None) -> str:
    """``url`` with credential query parameters masked (and any key-shaped text removed)."""
    parts = urlsplit(url)
    if parts.query:
        query = parse_qsl(parts.query, keep_blank_values=True)
        pairs = [(k, MASK if k.lower() in SECRET_QUERY else v) for k, v in query]
        parts = parts._replace(query=urlencode(pairs, safe="[]"))
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:  # credentials in the URL itself: keep the user name, drop the password
        parts = parts._replace(netloc=f"{userinfo.partition(':')[0]}:{MASK}@{host}")
    return redact_text(urlunsplit(parts), env)


def redact_json(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """A redacted copy of a JSON document: credential fields masked at any depth, strings scanned."""
    if isinstance(value, dict):
        # Only scalar values are masked: a tool schema may well have a property named "key".
        # A value already masked ("Bearer [REDACTED]") is kept, so redacting twice changes nothing.
        return {
            k: (
                MASK
                if isinstance(v, (str, int, float))
                and not isinstance(v, bool)
                and v != ""
                and isinstance(k, str)
                and k.lower() in SECRET_FIELDS
                and not _MASKED.fullmatch(str(v))
                else redact_json(v, env)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v, env) for v in value]
    if isinstance(value, str):
        return redact_text(value, env)
    return value
