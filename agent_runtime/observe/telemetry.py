"""One span per model call, as a JSON line named after the OpenTelemetry GenAI conventions.

A span is a plain dict (``name``, ``trace_id``, ``span_id``, ``kind``,
``start_time_unix_nano``, ``end_time_unix_nano``, ``status``, ``attributes``);
attribute names are the OpenTelemetry GenAI ones (``gen_ai.provider.name``,
``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.usage.*``,
``gen_ai.response.finish_reasons``, ``error.type``, ``server.address``,
``http.response.status_code``) plus ``kylecode.*`` for what OTel has no name for
(route, turn, attempt, retry, fallback, stream, tool mode, timings).

Lines are redacted before they are written. ``append_lines`` is safe from many
processes at once: the file is opened ``O_APPEND``, an exclusive ``flock`` is
held for the batch, and each record goes out as one ``os.write`` of a whole line
(looping only on a short write, still under the lock), so lines never interleave
and none is lost.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from agent_runtime.messages import JSONObject
from agent_runtime.observe.metrics import Attempt, distribution
from agent_runtime.observe.redact import redact_text

ENV_PATH: Final = "KYLECODE_TELEMETRY_PATH"

# Our provider names -> the OTel well-known ``gen_ai.provider.name`` values (others keep our name).
_OTEL_PROVIDER: Final = {
    "openai": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "deepseek": "deepseek",
    "deepseek-anthropic": "deepseek",
    "groq": "groq",
    "mistral": "mistral_ai",
    "moonshot": "moonshot",
    "moonshot-anthropic": "moonshot",
    "zai": "z_ai",
    "openrouter": "openrouter",
}


def span_from_attempt(attempt: Attempt, *, trace_id: str, epoch: float = 0.0) -> JSONObject:
    """The span of one call. ``epoch`` is the unix time at clock 0 (so virtual runs get stable times)."""
    record = attempt.record
    provider, _, model = record.route.partition("/")
    attrs: JSONObject = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _OTEL_PROVIDER.get(provider, provider),
        "gen_ai.request.model": model,
        "kylecode.route": record.route,
        "kylecode.turn": attempt.turn,
        "kylecode.attempt": attempt.attempt,
        "kylecode.retry": attempt.retry,
        "kylecode.fallback": attempt.fallback,
        "kylecode.stream": record.stream,
        "kylecode.tool_mode": attempt.tool_mode,
        "kylecode.latency_ms": round(record.latency_ms, 1),
    }
    max_tokens = record.request_body.get("max_tokens", record.request_body.get("max_output_tokens"))
    if max_tokens is not None:
        attrs["gen_ai.request.max_tokens"] = max_tokens
    host = urlsplit(record.url).hostname
    if host:
        attrs["server.address"] = host
    if record.status is not None:
        attrs["http.response.status_code"] = record.status
    if record.ttft_ms is not None:
        attrs["kylecode.ttft_ms"] = round(record.ttft_ms, 1)
    response = record.response
    if response is not None:
        attrs["gen_ai.usage.input_tokens"] = response.usage.input_tokens
        attrs["gen_ai.usage.output_tokens"] = response.usage.output_tokens
        if response.finish_reason:
            attrs["gen_ai.response.finish_reasons"] = [response.finish_reason]
        if response.model:
            attrs["gen_ai.response.model"] = response.model
        if response.response_id:
            attrs["gen_ai.response.id"] = response.response_id
    status: dict[str, str] = {"code": "UNSET"}
    if record.error is not None:
        attrs["error.type"] = record.error.category
        status = {"code": "ERROR", "message": record.error.message}
    start_ns = int((epoch + record.started) * 1e9)
    span_id = hashlib.sha256(f"{trace_id}:{attempt.turn}:{attempt.attempt}".encode()).hexdigest()[:16]
    return {
        "name": f"chat {model}",
        "kind": "CLIENT",
        "trace_id": trace_id,
        "span_id": span_id,
        "start_time_unix_nano": start_ns,
        "end_time_unix_nano": start_ns + int(record.latency_ms * 1e6),
        "status": status,
        "attributes": attrs,
    }


def encode_span(span: Mapping[str, object], env: Mapping[str, str] | None = None) -> str:
    """One redacted JSON line (with its newline)."""
    return redact_text(json.dumps(span, sort_keys=True, ensure_ascii=False, separators=(",", ":")), env) + "\n"


def append_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Append whole lines to ``path`` safely against concurrent writers; returns the line count."""
    data = [line.encode("utf-8") if line.endswith("\n") else (line + "\n").encode("utf-8") for line in lines]
    if not data:
        return 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            for chunk in data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return len(data)


def export(lines: list[str], env: Mapping[str, str] | None = None) -> Path | None:
    """Append ``lines`` to ``$KYLECODE_TELEMETRY_PATH`` when it is set; returns the path written."""
    target = (os.environ if env is None else env).get(ENV_PATH)
    if not target:
        return None
    append_lines(target, lines)
    return Path(target)


def read_spans(path: str | Path) -> list[JSONObject]:
    """The spans of a telemetry file; a line that is not a JSON object raises ``ValueError`` naming it."""
    spans = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                span = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
            if not isinstance(span, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            spans.append(span)
    return spans


def summarize(spans: Iterable[Mapping[str, Any]]) -> JSONObject:
    """Aggregate spans per route and error category (``kylecode metrics --summary``).

    Per route: calls, successes, errors by category, retries, fallback calls, tokens and
    latency p50/p95/max (nearest rank, as in the metrics snapshot). Deterministic: sorted keys.
    """
    routes: dict[str, JSONObject] = {}
    latencies: dict[str, list[float]] = {}
    errors_total: dict[str, int] = {}
    count = 0
    for span in spans:
        attrs = span.get("attributes") or {}
        route = attrs.get("kylecode.route") or (
            f"{attrs.get('gen_ai.provider.name', '?')}/{attrs.get('gen_ai.request.model', '?')}"
        )
        count += 1
        r = routes.setdefault(
            route,
            {
                "calls": 0,
                "successes": 0,
                "errors": {},
                "retries": 0,
                "fallback_calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
            },
        )
        r["calls"] += 1
        category = attrs.get("error.type")
        if category:
            r["errors"][category] = r["errors"].get(category, 0) + 1
            errors_total[category] = errors_total.get(category, 0) + 1
        else:
            r["successes"] += 1
        r["retries"] += bool(attrs.get("kylecode.retry"))
        r["fallback_calls"] += bool(attrs.get("kylecode.fallback"))
        r["input_tokens"] += int(attrs.get("gen_ai.usage.input_tokens") or 0)
        r["output_tokens"] += int(attrs.get("gen_ai.usage.output_tokens") or 0)
        if isinstance(attrs.get("kylecode.latency_ms"), (int, float)):
            latencies.setdefault(route, []).append(float(attrs["kylecode.latency_ms"]))
    for route, r in routes.items():
        r["errors"] = dict(sorted(r["errors"].items()))
        r["latency_ms"] = distribution(latencies.get(route, []))
    calls = sum(r["calls"] for r in routes.values())
    return {
        "spans": count,
        "calls": calls,
        "successes": sum(r["successes"] for r in routes.values()),
        "errors": dict(sorted(errors_total.items())),
        "routes": dict(sorted(routes.items())),
    }
