"""Agent configuration: the runtime knobs, their defaults, and strict parsing.

The same keys serve a scenario's ``agent:`` section and ``kylecode run CONFIG``
(which adds ``route`` and ``extends``). Parsing is strict: an unknown key, a
wrong type or a bad value raises ``ConfigError`` naming the dotted key path
(``agent.recovery.rate_limit.max_retries``) and what was expected; callers that
know line numbers (the scenario loader) add ``file:line``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, TypeVar, Unpack

from agent_runtime.errors import CATEGORIES, ConfigError, did_you_mean
from agent_runtime.messages import TOOL_MODES, ToolMode

if TYPE_CHECKING:
    from agent_runtime.yamlsource import LocatedDocument

Action = Literal["retry", "fallback", "fail", "override_tools", "override_stream"]
ACTIONS: Final[tuple[Action, ...]] = ("retry", "fallback", "fail", "override_tools", "override_stream")


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5
    factor: float = 2.0
    max: float = 8.0
    jitter: float = 0.1


@dataclass(frozen=True, slots=True)
class RecoveryRule:
    """What to do when a call fails with one category.

    ``action`` happens first; for ``retry`` that is up to ``max_retries`` re-sends to
    the same route, after which ``then`` happens (``fallback`` or ``fail``). For
    ``override_tools``/``override_stream`` the override is applied and ``then``
    (default ``retry``) says what follows: re-send once on the same route, or move on.
    """

    action: Action
    max_retries: int = 0
    backoff: Backoff = Backoff()
    honor_retry_after: bool = False
    then: Action = "fail"


def _retry(n: int, *, honor_retry_after: bool = False) -> RecoveryRule:
    return RecoveryRule("retry", max_retries=n, then="fallback", honor_retry_after=honor_retry_after)


DEFAULT_RECOVERY: Final[dict[str, RecoveryRule]] = {
    "rate_limit": _retry(3, honor_retry_after=True),
    "overloaded": _retry(2),
    **{
        c: _retry(1)
        for c in (
            "server_error",
            "invalid_json",
            "empty_response",
            "timeout",
            "connection",
            "stream_truncated",
            "stream_error",
        )
    },
    "html_response": RecoveryRule("fallback", then="fallback"),
    "tools_unsupported": RecoveryRule("override_tools", then="retry"),
    **{c: RecoveryRule("fail") for c in ("auth", "bad_request", "not_found", "context_length", "content_filter")},
}
# ``malformed_tool_call`` is not a transport error: the loop answers it with an error result.
RECOVERABLE_CATEGORIES: Final = tuple(c for c in CATEGORIES if c != "malformed_tool_call")


@dataclass(frozen=True, slots=True)
class CompletionConfig:
    tool_finish: bool = True
    text_sentinels: tuple[str, ...] = ()
    provider_signals: bool = False


@dataclass(frozen=True, slots=True)
class CircuitConfig:
    failure_threshold: int = 3
    cooldown_s: float = 60.0


@dataclass(frozen=True, slots=True)
class LoopGuardConfig:
    malformed_repeats: int = 3
    identical_repeats: int = 5


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float = 10.0
    first_byte_s: float = 60.0
    idle_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RunShellConfig:
    default_timeout_s: float = 60.0
    max_timeout_s: float = 600.0
    # True: commands run in a sandbox (``loop.tools.shell``); False: as the user, with everything
    # the user may do; None: the caller decides (``kylecode run``: unsandboxed; a matrix cell that
    # replays or records from the emulator: sandboxed).
    sandbox: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolsConfig:
    run_shell: RunShellConfig = RunShellConfig()
    # Non-blocking (read-only) tools of one turn may run concurrently, up to this many at once.
    max_parallel: int = 4


@dataclass(frozen=True, slots=True)
class AgentConfig:
    route: str | None = None
    max_steps: int = 20
    streaming: bool = True
    tool_mode: ToolMode = "native"
    max_tokens: int = 4096
    system_prompt: str | None = None
    completion: CompletionConfig = CompletionConfig()
    # None: the providers' default chains; (): no failover at all.
    failover: tuple[str, ...] | None = None
    recovery: Mapping[str, RecoveryRule] = field(default_factory=lambda: dict(DEFAULT_RECOVERY))
    circuit: CircuitConfig = CircuitConfig()
    loop_guard: LoopGuardConfig = LoopGuardConfig()
    timeouts: Timeouts = Timeouts()
    probes: bool = False
    tools: ToolsConfig = ToolsConfig()
    seed: int = 0

    def with_overrides(self, **changes: Unpack[AgentConfigChanges]) -> AgentConfig:
        return replace(self, **changes)


class AgentConfigChanges(TypedDict, total=False):
    """Any subset of ``AgentConfig``'s fields, each with its field's type: what ``with_overrides``
    takes and what the parser collects before it applies them."""

    route: str | None
    max_steps: int
    streaming: bool
    tool_mode: ToolMode
    max_tokens: int
    system_prompt: str | None
    completion: CompletionConfig
    failover: tuple[str, ...] | None
    recovery: Mapping[str, RecoveryRule]
    circuit: CircuitConfig
    loop_guard: LoopGuardConfig
    timeouts: Timeouts
    probes: bool
    tools: ToolsConfig
    seed: int


# -- parsing -----------------------------------------------------------------------------------


def _fail(key: str, expected: str, got: object) -> ConfigError:
    return ConfigError(f"expected {expected}, got {_clip(got)}", key=key)


def _clip(value: object) -> str:
    """``repr(value)``, cut short: a value of megabytes must not become a message of megabytes."""
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:80]}... ({len(text)} characters)"


def _check_keys(data: Mapping[str, object], allowed: tuple[str, ...], key: str) -> None:
    for name in data:
        if name not in allowed:
            raise ConfigError(
                f"unknown key {name!r}{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}",
                key=f"{key}.{name}" if key else str(name),
            )


def _mapping(value: object, key: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _fail(key, "a mapping", value)
    return value


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, "true or false", value)
    return value


def _int(value: object, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(key, f"an integer >= {minimum}", value)
    return value


def _number(value: object, key: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise _fail(key, f"a number >= {minimum}", value)
    return float(value)


_Choice = TypeVar("_Choice", bound=str)


def _choice(value: object, key: str, choices: tuple[_Choice, ...]) -> _Choice:
    for choice in choices:
        if value == choice:
            return choice
    raise ConfigError(
        f"expected one of {', '.join(choices)}, got {_clip(value)}{did_you_mean(value, choices)}", key=key
    )


_Flat = TypeVar("_Flat")
# A field parser: (value, dotted key) -> the field's value, or ConfigError.
_FieldParser = Callable[[object, str], object]


def _dataclass_from(cls: Callable[..., _Flat], data: object, key: str, fields: Mapping[str, _FieldParser]) -> _Flat:
    """Build a flat dataclass whose fields are all numbers/bools; ``fields`` maps name -> parser."""
    data = _mapping(data, key)
    _check_keys(data, tuple(fields), key)
    return cls(**{name: fields[name](value, f"{key}.{name}") for name, value in data.items()})


def _at_least_one(value: object, key: str) -> int:
    return _int(value, key, 1)


def _parse_backoff(data: object, key: str) -> Backoff:
    return _dataclass_from(Backoff, data, key, {n: _number for n in ("base", "factor", "max", "jitter")})


def _parse_rule(data: object, key: str) -> RecoveryRule:
    data = _mapping(data, key)
    _check_keys(data, ("action", "max_retries", "backoff", "honor_retry_after", "then"), key)
    if "action" not in data:
        raise ConfigError(f"missing 'action' (one of {', '.join(ACTIONS)})", key=f"{key}.action")
    action = _choice(data["action"], f"{key}.action", ACTIONS)
    then: dict[Action, Action] = {"retry": "fallback", "override_tools": "retry", "override_stream": "retry"}
    default_then = then.get(action, action)
    return RecoveryRule(
        action=action,
        max_retries=_int(data.get("max_retries", 0), f"{key}.max_retries"),
        backoff=_parse_backoff(data["backoff"], f"{key}.backoff") if "backoff" in data else Backoff(),
        honor_retry_after=_bool(data.get("honor_retry_after", False), f"{key}.honor_retry_after"),
        then=_choice(data.get("then", default_then), f"{key}.then", ACTIONS),
    )


def _route(value: object, key: str) -> str:
    """``value`` when it is a route of a known provider; else ``ConfigError`` at ``key``."""
    from agent_runtime.providers import parse_route

    try:
        return parse_route(value).name  # the name of a parsed route is its text, unchanged
    except ConfigError as exc:
        raise ConfigError(str(exc), key=key) from None


def _parse_routes(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(key, "a list of routes 'provider/model' ([] for none)", value)
    return tuple(_route(item, f"{key}[{i}]") for i, item in enumerate(value))


def _str_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, "a list of non-empty strings", value)
    return tuple(value)


AGENT_KEYS: Final = (
    "route",
    "max_steps",
    "streaming",
    "tool_mode",
    "max_tokens",
    "system_prompt",
    "completion",
    "failover",
    "recovery",
    "circuit",
    "loop_guard",
    "timeouts",
    "probes",
    "tools",
    "seed",
)


def parse_agent_config(
    data: Mapping[str, object] | None, *, key: str = "agent", base: AgentConfig | None = None
) -> AgentConfig:
    """Validate ``data`` and return it applied over ``base`` (default: the defaults)."""
    config = base or AgentConfig()
    if data is None:
        return config
    data = _mapping(data, key)
    _check_keys(data, AGENT_KEYS, key)
    changes: AgentConfigChanges = {}
    for name, value in data.items():
        k = f"{key}.{name}"
        if name == "route":
            changes["route"] = None if value is None else _route(value, k)
        elif name == "max_steps":
            changes["max_steps"] = _at_least_one(value, k)
        elif name == "max_tokens":
            changes["max_tokens"] = _at_least_one(value, k)
        elif name == "streaming":
            changes["streaming"] = _bool(value, k)
        elif name == "probes":
            changes["probes"] = _bool(value, k)
        elif name == "seed":
            changes["seed"] = _int(value, k)
        elif name == "tool_mode":
            changes["tool_mode"] = _choice(value, k, TOOL_MODES)
        elif name == "system_prompt":
            if value is not None and not isinstance(value, str):
                raise _fail(k, "a string", value)
            changes["system_prompt"] = value
        elif name == "completion":
            d = _mapping(value, k)
            _check_keys(d, ("tool_finish", "text_sentinels", "provider_signals"), k)
            changes["completion"] = CompletionConfig(
                tool_finish=_bool(d.get("tool_finish", True), f"{k}.tool_finish"),
                text_sentinels=_str_list(d.get("text_sentinels", []), f"{k}.text_sentinels"),
                provider_signals=_bool(d.get("provider_signals", False), f"{k}.provider_signals"),
            )
        elif name == "failover":
            changes["failover"] = None if value is None else _parse_routes(value, k)
        elif name == "recovery":
            d = _mapping(value, k)
            _check_keys(d, RECOVERABLE_CATEGORIES, k)
            recovery = dict(config.recovery)
            # A category given here replaces that category's default as a whole.
            recovery.update({cat: _parse_rule(rule, f"{k}.{cat}") for cat, rule in d.items()})
            changes["recovery"] = recovery
        elif name == "circuit":
            changes["circuit"] = _dataclass_from(
                CircuitConfig, value, k, {"failure_threshold": _at_least_one, "cooldown_s": _number}
            )
        elif name == "loop_guard":
            changes["loop_guard"] = _dataclass_from(
                LoopGuardConfig, value, k, {"malformed_repeats": _at_least_one, "identical_repeats": _at_least_one}
            )
        elif name == "timeouts":
            changes["timeouts"] = _dataclass_from(
                Timeouts, value, k, {n: _number for n in ("connect_s", "first_byte_s", "idle_s")}
            )
        elif name == "tools":
            d = _mapping(value, k)
            _check_keys(d, ("run_shell", "max_parallel"), k)
            run_shell = config.tools.run_shell
            if "run_shell" in d:
                run_shell = _dataclass_from(
                    RunShellConfig,
                    d["run_shell"],
                    f"{k}.run_shell",
                    {**{n: _number for n in ("default_timeout_s", "max_timeout_s")}, "sandbox": _bool},
                )
            max_parallel = _int(d.get("max_parallel", config.tools.max_parallel), f"{k}.max_parallel", 1)
            changes["tools"] = ToolsConfig(run_shell, max_parallel)
    return replace(config, **changes)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` key by key; nested mappings merge, everything else replaces."""
    merged = dict(base)
    for name, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = deep_merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def load_agent_config(path: str | Path) -> AgentConfig:
    """Load ``kylecode run`` CONFIG: YAML with ``route``, optional ``extends: other.yaml`` and agent keys.

    A wrong value is reported as ``file:line`` of the file that sets it (CONFIG or a file it extends),
    with its key. The YAML itself is read by ``yamlsource.load``: a key given twice in one mapping,
    text that is not UTF-8, nesting too deep and a syntax error are ``ConfigError`` s naming
    ``file:line`` too, never another exception.
    """
    path = Path(path)
    files: list[LocatedDocument] = []
    try:
        data = _load_with_extends(path, (), files)
        return parse_agent_config(data, key=str(path))
    except ConfigError as exc:
        raise _in_defining_file(exc, str(path), files) from None


def _holds(value: object, part: str | int) -> bool:
    """Whether ``value[part]`` is there: a key of a mapping, or an index of a list."""
    if isinstance(value, dict):
        return part in value
    return isinstance(value, list) and isinstance(part, int) and part < len(value)


def _in_defining_file(exc: ConfigError, prefix: str, files: list[LocatedDocument]) -> ConfigError:
    """``exc`` (keyed ``<CONFIG>.a.b[0]``) re-pointed at the file and line that set ``a.b[0]``."""
    from agent_runtime.yamlsource import parse_keypath

    if exc.where is not None or not exc.key or not exc.key.startswith(prefix + "."):
        return exc
    keytext = exc.key[len(prefix) + 1 :]
    parts = parse_keypath(keytext)
    best: tuple[int, LocatedDocument] | None = None
    for doc in files:  # the config first: what it sets wins over what it extends
        depth, value = 0, doc.data
        for part in parts:
            if not _holds(value, part):
                break
            value, depth = value[part], depth + 1
        if best is None or depth > best[0]:
            best = (depth, doc)
    assert best is not None
    message = str(exc)
    if message.startswith(f"{exc.key}: "):
        message = message[len(exc.key) + 2 :]
    return ConfigError(message, where=best[1].where(parts), key=keytext)


def _load_with_extends(path: Path, seen: tuple[Path, ...], files: list[LocatedDocument]) -> dict[str, Any]:
    from agent_runtime.yamlsource import LocatedDocument, load

    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"'extends' forms a cycle: {chain}", where=str(path), key="extends")
    try:
        doc = load(path)
    except OSError as exc:
        where = str(seen[-1]) if seen else None
        raise ConfigError(
            f"cannot read agent config {str(path)!r}: {exc.strerror}", where=where, key="extends" if seen else None
        ) from None
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}", where=str(path))
    files.append(LocatedDocument(path, dict(data), doc.lines))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"expected a file name, got {parent!r}", where=str(path), key="extends")
    base = _load_with_extends(path.parent / parent, (*seen, resolved), files)
    return deep_merge(base, data)
