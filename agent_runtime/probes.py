"""Capability probes and the preflight of ``kylecode probe``.

``probe_route`` asks one route three small questions through ``ProviderClient``:

- ``stream``: a streamed answer without tools;
- ``tools``: a non-streamed request WITH a real tool definition (``PROBE_TOOL``):
  a predecessor's tools probe sent no tool, so it could never see a route that
  rejects ``tools``;
- ``json``: a non-streamed request in JSON mode whose answer must parse.

Each check is ``pass``, ``warn`` (the call worked but the answer was not what was
asked) or ``fail`` (the call failed; ``category`` says how). A failure is only a
*capability* failure when another probe of the same route worked (the route is up)
and the category is about the request, not about load: then it becomes an
override, ``stream`` (the route goes non-streaming) or ``tools`` (the route goes to
the text dialect), applied to the ``ResilientModel`` and recorded in metrics.

``preflight(config, env)`` checks the API key of, and probes, exactly the routes
``failover.resolve_routes`` returns: the same function the runtime walks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypedDict

from agent_runtime.clock import Clock, SystemClock
from agent_runtime.config import AgentConfig
from agent_runtime.messages import ModelRequest, SystemMessage, ToolSpec, UserMessage
from agent_runtime.observe.metrics import Attempt
from agent_runtime.providers import Route
from agent_runtime.resilience.failover import resolve_routes
from agent_runtime.resilience.policy import OverrideKind
from agent_runtime.wire.client import CallRecord

if TYPE_CHECKING:
    import httpx

    from agent_runtime.observe.runlog import RunLog
    from agent_runtime.resilience.resilient import ResilientModel, RouteCaller

PROBE_TOOL: Final = ToolSpec(
    name="kylecode_probe",
    description="Report that tool calling works. Call it with value set to the word ok.",
    parameters={
        "type": "object",
        "properties": {"value": {"type": "string", "description": "the word ok"}},
        "required": ["value"],
        "additionalProperties": False,
    },
)
PROBE_MAX_TOKENS: Final = 64
_SYSTEM: Final = SystemMessage("You are a capability probe. Follow the instruction exactly and keep answers short.")

# Failures that say the request shape was refused (not that the route was busy or down).
_TOOLS_REFUSED: Final = frozenset({"tools_unsupported", "bad_request", "not_found"})
_NOT_CAPABILITY: Final = frozenset({"rate_limit", "overloaded", "auth", "connection", "server_error"})


def _requests() -> dict[str, ModelRequest]:
    return {
        "stream": ModelRequest(
            [_SYSTEM, UserMessage("Reply with the single word OK.")], None, stream=True, max_tokens=PROBE_MAX_TOKENS
        ),
        "tools": ModelRequest(
            [_SYSTEM, UserMessage("Call the kylecode_probe tool with value ok.")],
            [PROBE_TOOL],
            stream=False,
            max_tokens=PROBE_MAX_TOKENS,
        ),
        "json": ModelRequest(
            [_SYSTEM, UserMessage('Reply with the JSON object {"ok": true} and nothing else.')],
            None,
            stream=False,
            max_tokens=PROBE_MAX_TOKENS,
            json_mode=True,
        ),
    }


CheckStatus: TypeAlias = Literal["pass", "warn", "fail"]


class ProbeCheck(TypedDict):
    """The outcome of one probe call."""

    status: CheckStatus
    category: str | None
    detail: str
    http_status: int | None
    latency_ms: float


class ProbeOverride(TypedDict):
    kind: OverrideKind
    reason: str


class RouteProbes(TypedDict):
    """``probe_route``'s answer: the three checks and the overrides they call for."""

    stream: ProbeCheck
    tools: ProbeCheck
    json: ProbeCheck
    overrides: list[ProbeOverride]


class ProbeReport(TypedDict):
    """``run_probes``'s answer (the run directory's ``capability_probes.json``)."""

    schema: int
    routes: dict[str, RouteProbes]


class PreflightCheck(TypedDict):
    route: str
    check: str
    status: CheckStatus
    detail: str


class PreflightOverride(TypedDict):
    route: str
    kind: OverrideKind
    reason: str


class PreflightReport(TypedDict):
    """``preflight``'s answer (``kylecode probe -o report.json``)."""

    schema: int
    status: CheckStatus
    route: str
    routes: list[str]
    checks: list[PreflightCheck]
    probes: dict[str, RouteProbes]
    overrides: list[PreflightOverride]


def _check(name: str, record: CallRecord) -> ProbeCheck:
    result: ProbeCheck = {
        "status": "pass",
        "category": None,
        "detail": "",
        "http_status": record.status,
        "latency_ms": round(record.latency_ms, 1),
    }
    if record.error is not None:
        result["status"], result["category"], result["detail"] = "fail", record.error.category, record.error.message
        return result
    response = record.response
    assert response is not None
    if name == "tools":
        called = [c.name for c in response.tool_calls]
        if PROBE_TOOL.name not in called:
            result["status"], result["detail"] = "warn", "the tool was accepted but not called"
    elif name == "json":
        try:
            parsed = json.loads(response.text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            result["status"], result["detail"] = "warn", "the answer was not a JSON object"
    return result


def overrides_for(checks: Mapping[str, ProbeCheck]) -> list[tuple[OverrideKind, str]]:
    """``[(kind, reason)]`` the probe results call for (see the module docstring)."""
    answered = {name for name in ("stream", "tools", "json") if name in checks and checks[name]["status"] != "fail"}
    out: list[tuple[OverrideKind, str]] = []
    stream, tools = checks.get("stream"), checks.get("tools")
    if stream and stream["status"] == "fail" and answered - {"stream"} and stream["category"] not in _NOT_CAPABILITY:
        out.append(("stream", f"probe: {stream['category']}"))
    if tools and tools["status"] == "fail" and answered - {"tools"} and tools["category"] in _TOOLS_REFUSED:
        out.append(("tools", f"probe: {tools['category']}"))
    return out


def probe_route(
    client: RouteCaller, route: Route, *, runlog: RunLog | None = None, first_attempt: int = 1
) -> RouteProbes:
    """Probe one route: ``{"stream": check, "tools": check, "json": check, "overrides": [{kind, reason}]}``.

    Probe calls go to the run log as turn 0 (they are not model turns: metrics do not count them).
    """
    checks: dict[str, ProbeCheck] = {}
    for n, (name, request) in enumerate(_requests().items()):
        record = client.call(route, request)
        if runlog is not None:
            runlog.record_attempt(Attempt(record, 0, first_attempt + n, tool_mode="native"))
        checks[name] = _check(name, record)
    return {
        "stream": checks["stream"],
        "tools": checks["tools"],
        "json": checks["json"],
        "overrides": [{"kind": kind, "reason": reason} for kind, reason in overrides_for(checks)],
    }


def run_probes(model: ResilientModel, *, runlog: RunLog | None = None) -> ProbeReport:
    """Probe every route ``model`` may reach and apply the overrides found; returns the report."""
    report: ProbeReport = {"schema": 1, "routes": {}}
    attempt = 1
    for route in model.routes:
        checks = probe_route(model.client, route, runlog=runlog, first_attempt=attempt)
        attempt += 3
        for override in checks["overrides"]:
            model.apply_override(route.name, override["kind"], override["reason"])
        report["routes"][route.name] = checks
    if runlog is not None:
        runlog.set_probes(report)
    return report


def preflight(
    config: AgentConfig,
    env: Mapping[str, str] | None = None,
    *,
    http: httpx.Client | None = None,
    clock: Clock | None = None,
) -> PreflightReport:
    """Keys and capability probes of every route the runtime could reach; a JSON-ready report.

    Each entry of ``checks`` is ``{"route", "check", "status": pass|warn|fail, "detail"}``;
    ``status`` is the worst of them. A route without its key fails and is not probed; a failed
    capability the runtime will override (text dialect, no streaming) is a warning.
    """
    import httpx

    from agent_runtime.wire.client import ProviderClient

    if not config.route:
        raise ValueError("the config names no route ('route: provider/model')")
    env = os.environ if env is None else env
    routes = resolve_routes(config.route, config.failover)
    own_http = http is None
    http = httpx.Client() if http is None else http
    client = ProviderClient(http, clock=clock or SystemClock(), timeouts=config.timeouts, env=env)
    checks: list[PreflightCheck] = []
    probes: dict[str, RouteProbes] = {}
    try:
        for route in routes:
            key_env = route.provider.key_env
            has_key = bool(env.get(key_env))
            checks.append(
                {
                    "route": route.name,
                    "check": "key",
                    "status": "pass" if has_key else "fail",
                    "detail": f"{key_env} is set" if has_key else f"{key_env} is not set",
                }
            )
            if not has_key:
                continue
            result = probes[route.name] = probe_route(client, route)
            covered = {o["kind"] for o in result["overrides"]}
            for name in ("stream", "tools", "json"):
                c = result[name]
                status, detail = c["status"], c["detail"] or ("ok" if c["status"] == "pass" else "")
                if c["category"]:
                    detail = f"{c['category']}: {detail}"
                if status == "fail" and name in covered:
                    # The runtime copes: it will use the text dialect / no streaming on this route.
                    status = "warn"
                    detail += " (override: " + ("text dialect" if name == "tools" else "no streaming") + ")"
                checks.append({"route": route.name, "check": name, "status": status, "detail": detail})
    finally:
        if own_http:
            http.close()
    statuses = {c["status"] for c in checks}
    worst: CheckStatus = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return {
        "schema": 1,
        "status": worst,
        "route": config.route,
        "routes": [r.name for r in routes],
        "checks": checks,
        "probes": probes,
        "overrides": [{"route": name, **o} for name, p in probes.items() for o in p["overrides"]],
    }
