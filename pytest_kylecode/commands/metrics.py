"""``kylecode metrics TELEMETRY.jsonl --summary [--http-endpoint URL] [--json]``.

Reads a telemetry file (``KYLECODE_TELEMETRY_PATH`` or a run's
``meta/telemetry.jsonl``). ``--summary`` aggregates the spans per route and
error category (a table, or JSON with ``--json``); ``--http-endpoint`` POSTs the
spans as a JSON array (``application/json``, batches of ``BATCH`` spans) to a
collector. With neither option, the summary is printed. Exit status 0, or 2
with one line on stderr (unreadable file, bad line, refused POST).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_runtime.messages import JSONObject

HELP = "aggregate telemetry spans per route and category, or forward them to an HTTP endpoint"
BATCH = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("telemetry", metavar="TELEMETRY.jsonl", type=Path, help="telemetry file (one span per line)")
    parser.add_argument("--summary", action="store_true", help="print calls, errors and latency per route")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--http-endpoint", metavar="URL", default=None, help="POST the spans as a JSON array to URL")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_summary(summary: JSONObject) -> str:
    lines = [f"{summary['spans']} spans, {summary['calls']} calls, {summary['successes']} successes"]
    header = f"{'route':40} {'calls':>6} {'ok':>6} {'retry':>6} {'p50 ms':>9} {'p95 ms':>9}  errors"
    lines += ["", header, "-" * len(header)]
    for route, r in summary["routes"].items():
        errors = ", ".join(f"{c}={n}" for c, n in r["errors"].items()) or "-"
        lat = r["latency_ms"]
        lines.append(
            f"{route:40} {r['calls']:>6} {r['successes']:>6} {r['retries']:>6} {_ms(lat['p50']):>9} "
            f"{_ms(lat['p95']):>9}  {errors}"
        )
    if summary["errors"]:
        lines += ["", "errors by category: " + ", ".join(f"{c}={n}" for c, n in summary["errors"].items())]
    return "\n".join(lines) + "\n"


def post_spans(url: str, spans: list[JSONObject]) -> int:
    """POST ``spans`` in batches; returns the number of requests. Raises ``RuntimeError`` on refusal."""
    import httpx

    requests = 0
    with httpx.Client(timeout=30.0) as client:
        for start in range(0, len(spans), BATCH):
            response = client.post(url, json=spans[start : start + BATCH])
            requests += 1
            if not response.is_success:
                raise RuntimeError(f"{url} answered HTTP {response.status_code} to batch {requests}")
    return requests


def run(args: argparse.Namespace) -> int:
    import httpx

    from agent_runtime.observe.telemetry import read_spans, summarize

    def fail(message: str) -> int:
        print(f"kylecode metrics: error: {message}", file=sys.stderr)
        return 2

    telemetry: Path = args.telemetry
    endpoint: str | None = args.http_endpoint
    as_json: bool = args.json
    wants_summary: bool = args.summary
    try:
        spans = read_spans(telemetry)
    except OSError as exc:
        return fail(f"cannot read {telemetry}: {exc.strerror or exc}")
    except ValueError as exc:
        return fail(str(exc))
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            return fail(f"--http-endpoint must be an http:// or https:// URL, got {endpoint!r}")
        try:
            sent = post_spans(endpoint, spans)
        except (httpx.HTTPError, RuntimeError) as exc:  # transport errors and refusals alike: one line
            return fail(f"POST to {endpoint} failed: {exc}")
        print(f"posted {len(spans)} spans in {sent} request(s) to {endpoint}")
    if wants_summary or as_json or not endpoint:
        summary = summarize(spans)
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n" if as_json else format_summary(summary))
    return 0
