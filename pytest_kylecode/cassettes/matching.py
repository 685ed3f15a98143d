"""Request normalization and matching for cassettes.

Before a request is matched against a cassette, and before it is written into
one, its volatile parts are normalized: the workspace path (also JSON-escaped,
and as resolved through symlinks) becomes ``<workspace>``, an overridden base
URL becomes the provider's canonical URL, and secrets are redacted. A replay
on another machine, in another temp directory, therefore still matches.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from agent_runtime.observe.redact import redact_json
from agent_runtime.providers import PROVIDERS
from agent_runtime.wire.client import ROUTE_EXTENSION  # set by ProviderClient on every request it sends
from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.cassettes.limits import loads_json

WORKSPACE = "<workspace>"


def canonical_uri(url: str, env: Mapping[str, str], route: str | None = None) -> str:
    """``url`` with an overridden base URL (``KYLECODE_<PROVIDER>_BASE_URL``) put back to the canonical one."""
    candidates = [PROVIDERS[route.split("/", 1)[0]]] if route and route.split("/", 1)[0] in PROVIDERS else []
    candidates += list(PROVIDERS.values())
    for provider in candidates:
        if provider.base_url_env in env and url == provider.endpoint(env):
            return provider.canonical_endpoint()
    return url


class RequestNormalizer:
    def __init__(self, workspace: Path | None, env: Mapping[str, str]) -> None:
        self.env = env
        self._replacements: list[tuple[str, str]] = []
        if workspace is not None:
            forms = {str(workspace), str(workspace.resolve())}
            for form in sorted(forms, key=len, reverse=True):
                self._replacements.append((form, WORKSPACE))
                escaped = json.dumps(form)[1:-1]
                if escaped != form:
                    self._replacements.append((escaped, WORKSPACE))

    def body(self, request: httpx.Request, *, redact: bool = False) -> object:
        """The request body as matched and recorded: its JSON (the text when it is not JSON,
        ``None`` when empty), the workspace path normalized, redacted with ``redact``."""
        text = request.content.decode("utf-8", errors="replace")
        for old, new in self._replacements:
            if old in text:
                text = text.replace(old, new)
        try:
            data: object = loads_json(text) if text else None
        except ValueError:  # no JSON (or too deep to compare): matched and recorded as its text
            data = text
        return redact_json(data, self.env) if redact else data

    def uri(self, request: httpx.Request) -> str:
        url = str(request.url)
        if self.env is not None and any(p.base_url_env in self.env for p in PROVIDERS.values()):
            return canonical_uri(url, self.env, request.extensions.get(ROUTE_EXTENSION))
        return url


def find_match(items: Sequence[Interaction], played: Sequence[bool], method: str, uri: str, body: object) -> int | None:
    """Index of the first unplayed interaction with this method, URI and JSON body."""
    for index, item in enumerate(items):
        if not played[index] and item.method == method and item.uri == uri and item.request_json == body:
            return index
    return None


def _pretty(value: object) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def miss_report(
    items: Sequence[Interaction], played: Sequence[bool], method: str, uri: str, body: object, *, limit: int = 60
) -> str:
    """A readable diff of a request against the nearest recorded one."""
    if not items:
        return f"the cassette has no interactions, but the run sent {method} {uri}"
    wanted = _pretty(body)
    best: tuple[float, int, list[str]] | None = None
    for index, item in enumerate(items):
        recorded = _pretty(item.request_json)
        score = difflib.SequenceMatcher(None, recorded, wanted, autojunk=False).ratio()
        score += 1.0 if item.uri == uri else 0.0
        score += 0.5 if not played[index] else 0.0
        if best is None or score > best[0]:
            best = (score, index, recorded)
    assert best is not None
    _, index, recorded = best
    item = items[index]
    head = [
        f"no recorded interaction matches {method} {uri}",
        f"nearest: interaction {index} ({item.method} {item.uri}{', already played' if played[index] else ''})",
    ]
    diff = list(
        difflib.unified_diff(recorded, wanted, "recorded request body", "request body sent now", lineterm="", n=2)
    )
    if item.uri != uri:
        head.append(f"  URI differs: recorded {item.uri}")
    if len(diff) > limit:
        diff = [*diff[:limit], f"... ({len(diff) - limit} more diff lines)"]
    return "\n".join([*head, *diff])
