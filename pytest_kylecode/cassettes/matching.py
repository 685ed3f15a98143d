"""Request normalization and matching for cassettes.

Before a request is matched against a cassette, and before it is written into
one, its volatile parts are normalized: the workspace path (also JSON-escaped,
and as resolved through symlinks) becomes ``<workspace>``, an overridden base
URL becomes the provider's canonical URL, and secrets are redacted. A replay
on another machine, in another temp directory, therefore still matches.

What is compared is then the user's to say (``MatchRules``: a scenario's ``match:`` and the
``kylecode_match_*`` ini keys, over ``DEFAULT_IGNORE_BODY`` and ``DEFAULT_IGNORE_HEADERS``):
body paths and headers to ignore, and a ``before_match`` hook. Ignored fields are still recorded;
they only leave the comparison, and the miss diff shows them as ignored. Everything else is
compared exactly, as parsed JSON data: each request body is decoded once, each recorded one
was decoded when its cassette was loaded.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, TypeAlias

import httpx

from agent_runtime.errors import ConfigError
from agent_runtime.observe.redact import redact_json
from agent_runtime.providers import PROVIDERS
from agent_runtime.wire.client import ROUTE_EXTENSION  # set by ProviderClient on every request it sends
from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.cassettes.limits import loads_json

WORKSPACE = "<workspace>"
IGNORED: Final = "<ignored>"  # what an ignored value shows as in a miss diff

# Body fields the official SDKs and the agent frameworks fill with a fresh value on every run:
# matching them would make every replay miss. Each entry names who sends it.
DEFAULT_IGNORE_BODY: Final[tuple[str, ...]] = (
    # openai-agents: Runner sets `prompt_cache_key: "agents-sdk:run:<uuid4 hex>"` on every run that
    # has no conversation, session or group id (run_internal/prompt_cache_key.py).
    "prompt_cache_key",
)
# Request headers that change from run to run or from machine to machine (a cassette keeps only a
# few headers, but a vcrpy cassette may hold them all).
DEFAULT_IGNORE_HEADERS: Final[tuple[str, ...]] = (
    # openai-python and anthropic-sdk-python (Stainless clients): `Idempotency-Key:
    # stainless-python-retry-<uuid4>` on every POST, `x-stainless-retry-count` counts the SDK's
    # own retries, the other `x-stainless-*` name the SDK version, OS, arch and runtime.
    "idempotency-key",
    "x-stainless-*",
    # Every HTTP client: its name and version.
    "user-agent",
    # Secrets: redacted on disk, never comparable.
    "authorization",
    "x-api-key",
    "api-key",
)


@dataclass(frozen=True, slots=True)
class MatchRequest:
    """A request as matching sees it, and as a ``before_match`` hook gets and returns it: method,
    canonical URI, headers (lower-case names) and the body as parsed JSON (its text when it is not
    JSON, ``None`` when empty)."""

    method: str
    uri: str
    headers: Mapping[str, str]
    body: object


BeforeMatch: TypeAlias = Callable[[MatchRequest], MatchRequest]


@dataclass(frozen=True, slots=True)
class MatchRules:
    """What a replayed request is compared on: everything except ``ignore_body`` (dotted JSON paths,
    ``*`` for any key or index) and ``ignore_headers`` (names, shell patterns), after
    ``before_match`` (``package.module:function``) rewrote both sides."""

    ignore_body: tuple[str, ...] = ()
    ignore_headers: tuple[str, ...] = ()
    before_match: str | None = None
    _paths: tuple[tuple[str, ...], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_paths", tuple(tuple(p.split(".")) for p in self.ignore_body))

    @classmethod
    def defaults(cls) -> MatchRules:
        return cls(DEFAULT_IGNORE_BODY, DEFAULT_IGNORE_HEADERS)

    def extended(self, other: MatchRules) -> MatchRules:
        """These rules and ``other``'s: both ignore lists; ``other``'s hook wins when it names one."""
        return MatchRules(
            _union(self.ignore_body, other.ignore_body),
            _union(self.ignore_headers, other.ignore_headers),
            other.before_match or self.before_match,
        )

    def ignores_header(self, name: str) -> bool:
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in self.ignore_headers)

    def hook(self) -> BeforeMatch | None:
        return None if self.before_match is None else load_hook(self.before_match)

    def masked(self, body: object, *, marker: bool = False) -> object:
        """``body`` without its ignored paths (dropped from objects; in arrays, and everywhere with
        ``marker``, replaced by ``IGNORED`` so the positions stay)."""
        if not self._paths or not isinstance(body, (dict, list)):
            return body
        out: object = body
        for path in self._paths:
            out = _masked(out, path, marker)
        return out

    def identity(self, item: Interaction) -> Interaction:
        """``item`` as it counts when a re-recording is compared with the cassette on disk: its
        ignored fields are no part of the cassette's identity."""
        return replace(item, request_json=self.masked(item.request_json))

    def ignored_paths(self, body: object) -> list[str]:
        """The concrete paths of ``body`` that the rules ignore (``messages.0.id``)."""
        found: list[str] = []
        for path in self._paths:
            _collect(body, path, (), found)
        return sorted(set(found))


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def _step(node: object, segment: str) -> list[tuple[str | int, object]]:
    """The (key or index, child) pairs of ``node`` that one path segment selects."""
    if isinstance(node, dict):
        keys = list(node) if segment == "*" else ([segment] if segment in node else [])
        return [(key, node[key]) for key in keys]
    if isinstance(node, list):
        if segment == "*":
            return list(enumerate(node))
        if segment.isdigit() and int(segment) < len(node):
            return [(int(segment), node[int(segment)])]
    return []


def _masked(node: object, path: tuple[str, ...], marker: bool) -> object:
    """``node`` with ``path`` masked. Only the containers on the way to a selected item are copied
    (every request of every cell passes here: a deep copy of each body was a tenth of a cell)."""
    head, rest = path[0], path[1:]
    selected = _step(node, head)
    if not selected:
        return node
    if isinstance(node, dict):
        out_dict = dict(node)
        for key, child in selected:
            if rest:
                out_dict[key] = _masked(child, rest, marker)
            elif marker:
                out_dict[key] = IGNORED
            else:
                del out_dict[key]
        return out_dict
    assert isinstance(node, list)  # _step selects only in objects and arrays
    out_list = list(node)
    for index, child in selected:
        out_list[int(index)] = _masked(child, rest, marker) if rest else IGNORED
    return out_list


def _collect(node: object, path: tuple[str, ...], prefix: tuple[str, ...], found: list[str]) -> None:
    head, rest = path[0], path[1:]
    for key, child in _step(node, head):
        if rest:
            _collect(child, rest, (*prefix, str(key)), found)
        else:
            found.append(".".join((*prefix, str(key))))


KeyPath: TypeAlias = tuple[str | int, ...]


def parse_match_rules(
    data: object, where: Callable[[KeyPath], str], key_name: Callable[[KeyPath], str] | None = None
) -> MatchRules:
    """A ``match:`` mapping (``ignore_body``, ``ignore_headers``, ``before_match``) -> ``MatchRules``;
    otherwise a ConfigError naming ``where(keypath)`` (``file:line``) and the key
    (``key_name(keypath)``, by default ``match.<keypath>``)."""

    def error(keypath: KeyPath, message: str) -> ConfigError:
        key = key_name(keypath) if key_name is not None else ".".join(["match", *map(str, keypath)])
        return ConfigError(message, where=where(keypath), key=key)

    if not isinstance(data, dict):
        raise error((), "expected a mapping with ignore_body, ignore_headers and before_match")
    for name in data:
        if name not in MATCH_KEYS:
            raise error((name,), f"unknown key {name!r}; allowed keys: {', '.join(MATCH_KEYS)}")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("ignore_body", "ignore_headers"):
        value = data.get(name, [])
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise error((name, index), f"expected a non-empty string, got {item!r}")
            if name == "ignore_body" and any(part == "" for part in item.split(".")):
                raise error((name, index), f"{item!r} is no dotted path (an empty segment); e.g. messages.*.id")
        lists[name] = tuple(items)
    hook = data.get("before_match")
    if hook is not None and (not isinstance(hook, str) or ":" not in hook):
        raise error(("before_match",), f"expected 'package.module:function', got {hook!r}")
    return MatchRules(lists["ignore_body"], lists["ignore_headers"], hook)


MATCH_KEYS: Final = ("ignore_body", "ignore_headers", "before_match")


def load_hook(spec: str) -> BeforeMatch:
    """The ``before_match`` callable named by ``package.module:attr``; a ConfigError saying why not."""
    module_name, _, attribute = spec.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} ({exc})", key="match.before_match") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}", key="match.before_match")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{spec!r} is not callable", key="match.before_match")

    def hook(request: MatchRequest) -> MatchRequest:
        result = target(request)
        if not isinstance(result, MatchRequest):
            raise ConfigError(
                f"{spec!r} returned {type(result).__name__}, not the MatchRequest it was given",
                key="match.before_match",
            )
        return result

    return hook


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
        return self.redact(data) if redact else data

    def redact(self, data: object) -> object:
        """A parsed body without the environment's secrets (as cassettes hold it)."""
        return redact_json(data, self.env)

    def uri(self, request: httpx.Request) -> str:
        url = str(request.url)
        if self.env is not None and any(p.base_url_env in self.env for p in PROVIDERS.values()):
            return canonical_uri(url, self.env, request.extensions.get(ROUTE_EXTENSION))
        return url


@dataclass(frozen=True, slots=True)
class _Key:
    method: str
    uri: str
    headers: Mapping[str, str]  # the compared ones
    body: object  # masked


class Matcher:
    """The recorded interactions of one cassette under one set of rules: each recorded request's
    comparable form is computed once, here; ``find`` compares a request's against them."""

    def __init__(self, items: Sequence[Interaction], rules: MatchRules) -> None:
        self.items = items
        self.rules = rules
        self._hook = rules.hook()
        self._keys = [self._key(self._recorded(item)) for item in items]

    def _recorded(self, item: Interaction) -> MatchRequest:
        return self._hooked(MatchRequest(item.method, item.uri, dict(item.request_headers), item.request_json))

    def _hooked(self, request: MatchRequest) -> MatchRequest:
        return self._hook(request) if self._hook is not None else request

    def _key(self, request: MatchRequest) -> _Key:
        headers = {k.lower(): v for k, v in request.headers.items() if not self.rules.ignores_header(k)}
        return _Key(request.method, request.uri, headers, self.rules.masked(request.body))

    def request(self, method: str, uri: str, headers: Mapping[str, str], body: object) -> MatchRequest:
        """The request as compared: lower-case headers, then the ``before_match`` hook."""
        return self._hooked(MatchRequest(method, uri, {k.lower(): v for k, v in headers.items()}, body))

    def find(self, played: Sequence[bool], request: MatchRequest) -> int | None:
        """Index of the first unplayed interaction this request matches."""
        key = self._key(request)
        for index, recorded in enumerate(self._keys):
            if not played[index] and _same(recorded, key):
                return index
        return None

    def miss_report(self, played: Sequence[bool], request: MatchRequest, *, limit: int = 60) -> str:
        """A readable diff of a request against the nearest recorded one, ignored values marked."""
        method, uri = request.method, request.uri
        if not self.items:
            return f"the cassette has no interactions, but the run sent {method} {uri}"
        wanted = _pretty(self.rules.masked(request.body, marker=True))
        best: tuple[float, int, list[str]] | None = None
        for index, item in enumerate(self.items):
            recorded = _pretty(self.rules.masked(self._recorded(item).body, marker=True))
            score = difflib.SequenceMatcher(None, recorded, wanted, autojunk=False).ratio()
            score += 1.0 if item.uri == uri else 0.0
            score += 0.5 if not played[index] else 0.0
            if best is None or score > best[0]:
                best = (score, index, recorded)
        assert best is not None
        _, index, recorded = best
        item = self.items[index]
        head = [
            f"no recorded interaction matches {method} {uri}",
            f"nearest: interaction {index} ({item.method} {item.uri}{', already played' if played[index] else ''})",
        ]
        if item.uri != uri:
            head.append(f"  URI differs: recorded {item.uri}")
        recorded_key, key = self._keys[index], self._key(request)
        for name, value in sorted(recorded_key.headers.items()):
            if key.headers.get(name) != value:
                head.append(f"  header {name} differs: recorded {value!r}, sent {key.headers.get(name)!r}")
        ignored = sorted(set(self.rules.ignored_paths(request.body)) | set(self.rules.ignored_paths(item.request_json)))
        if ignored:
            head.append(f"  ignored, not compared ({IGNORED} below): {', '.join(ignored)}")
        diff = list(
            difflib.unified_diff(recorded, wanted, "recorded request body", "request body sent now", lineterm="", n=2)
        )
        if len(diff) > limit:
            diff = [*diff[:limit], f"... ({len(diff) - limit} more diff lines)"]
        return "\n".join([*head, *diff])


def _same(recorded: _Key, sent: _Key) -> bool:
    """The request matches what was recorded: method, URI, body as data, and every header the
    cassette kept (headers it did not keep cannot be compared)."""
    return (
        recorded.method == sent.method
        and recorded.uri == sent.uri
        and recorded.body == sent.body
        and all(sent.headers.get(name) == value for name, value in recorded.headers.items())
    )


def _pretty(value: object) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


__all__ = [
    "DEFAULT_IGNORE_BODY",
    "DEFAULT_IGNORE_HEADERS",
    "IGNORED",
    "MATCH_KEYS",
    "BeforeMatch",
    "MatchRequest",
    "MatchRules",
    "Matcher",
    "RequestNormalizer",
    "canonical_uri",
    "load_hook",
    "parse_match_rules",
]
