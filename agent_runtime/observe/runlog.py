"""The run log: recorded in memory during a run, written as a run directory on demand.

Recording costs appends only (references to the ``CallRecord`` objects, no copies
of bodies, no filesystem); the matrix writes the directory only for failing cells.
``RunLog.write`` materializes the run directory (docs/design.md, run directory)::

    <root>/<UTC timestamp>_<scenario>_<cell>_<short id>/
      meta/run.json  meta/capability_probes.json  meta/provider_metrics.json  meta/telemetry.jsonl
      meta/requests/turn_<n>_<attempt>.json   raw/responses/turn_<n>_<attempt>.txt
      errors/turn_<n>_<attempt>.json          conversation/conversation.md

Every byte written goes through ``redact``: headers, URLs and JSON bodies field
by field, then the whole text once more for key-shaped values.

The directory name is never shared: the final component is created with
``mkdir`` (no ``exist_ok``) and carries a random id; a clash draws a new id.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, assert_never

from agent_runtime.messages import AssistantMessage, Message, SystemMessage, ToolResult, UserMessage
from agent_runtime.observe.metrics import Attempt
from agent_runtime.observe.redact import redact_fragments, redact_headers, redact_json, redact_text, redact_url
from agent_runtime.observe.telemetry import encode_span, span_from_attempt
from agent_runtime.paths import inside
from agent_runtime.wire.classify import is_html

RAW_EXCERPT_BYTES: Final = 64 * 1024


@dataclass(slots=True)
class Event:
    """A line of the transcript that is not a call: a recovery step, a circuit change, a note."""

    turn: int
    text: str
    mark: str | None = None


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name-safe rendering of a scenario or cell id (``/`` and friends become ``_``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("._") or "run"
    return cleaned[:limit]


def raw_excerpt(
    status: int | None, headers: Mapping[str, str], raw: bytes, env: Mapping[str, str] | None = None
) -> str:
    """A raw response as a readable, redacted text file; HTML and binary bodies go base64.

    Redaction happens before base64, so an encoded body cannot smuggle a key out.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body = raw[:RAW_EXCERPT_BYTES]
    try:
        text = body.decode("utf-8")
        binary = "\x00" in text
    except UnicodeDecodeError:
        text, binary = body.decode("latin-1"), True
    encoding = "base64" if binary or is_html(body, content_type) else "text"
    text = redact_fragments(redact_text(text, env), env)  # a streamed key arrives in pieces
    if encoding == "base64":
        text = base64.b64encode(text.encode("latin-1" if binary else "utf-8")).decode("ascii")
    header = {
        "status": status,
        "content-type": content_type,
        "encoding": encoding,
        "bytes": len(raw),
        "excerpt_bytes": len(body),
    }
    return "".join(f"{k}: {v}\n" for k, v in header.items()) + "\n" + text + ("\n" if text else "")


class RunLog:
    """Everything one run did, in order; ``write`` turns it into a run directory."""

    def __init__(self, *, clock_now: float = 0.0) -> None:
        self.timeline: list[Attempt | Event] = []
        self.probes: dict[str, object] = {}
        self.metrics: dict[str, object] | None = None
        self.info: dict[str, object] = {}
        self.messages: list[Message] = []
        self.trace_id = uuid.uuid4().hex
        # Unix time at clock 0: span times are wall-clock, yet stable under a virtual clock.
        self.epoch = time.time() - clock_now

    # -- recording ---------------------------------------------------------------------------

    def record_attempt(self, attempt: Attempt) -> None:
        self.timeline.append(attempt)

    def note(self, turn: int, text: str, mark: str | None = None) -> None:
        self.timeline.append(Event(turn, text, mark))

    @property
    def attempts(self) -> list[Attempt]:
        return [e for e in self.timeline if isinstance(e, Attempt)]

    def set_probes(self, report: Mapping[str, object]) -> None:
        self.probes = dict(report)

    def set_metrics(self, snapshot: Mapping[str, object]) -> None:
        self.metrics = dict(snapshot)

    def set_info(self, **info: object) -> None:
        self.info.update(info)

    def set_conversation(self, messages: list[Message]) -> None:
        self.messages = messages

    # -- rendering ---------------------------------------------------------------------------

    def telemetry_lines(self, env: Mapping[str, str] | None = None) -> list[str]:
        return [encode_span(span_from_attempt(a, trace_id=self.trace_id, epoch=self.epoch), env) for a in self.attempts]

    def write(self, root: str | Path, scenario: str, cell: str, env: Mapping[str, str] | None = None) -> Path:
        """Write the run directory under ``root`` and return its path (always a new directory)."""
        run_dir = _new_run_dir(Path(root), scenario, cell)
        meta = run_dir / "meta"
        for sub in (meta / "requests", run_dir / "raw" / "responses", run_dir / "errors", run_dir / "conversation"):
            sub.mkdir(parents=True)

        def put(path: Path, text: str) -> None:
            path.write_text(redact_text(text, env), encoding="utf-8")

        def put_json(path: Path, data: object) -> None:
            put(path, json.dumps(redact_json(data, env), indent=2, sort_keys=True, ensure_ascii=False) + "\n")

        put_json(
            meta / "run.json",
            {
                **self.info,
                "run_id": run_dir.name,
                "scenario": scenario,
                "cell": cell,
                "trace_id": self.trace_id,
                "attempts": len(self.attempts),
            },
        )
        put_json(meta / "capability_probes.json", self.probes)
        put_json(meta / "provider_metrics.json", self.metrics or {})
        put(meta / "telemetry.jsonl", "".join(self.telemetry_lines(env)))
        for a in self.attempts:
            r, stem = a.record, f"turn_{a.turn}_{a.attempt}"
            put_json(
                meta / "requests" / f"{stem}.json",
                {
                    "route": r.route,
                    "method": "POST",
                    "url": redact_url(r.url, env),
                    "stream": r.stream,
                    "tool_mode": a.tool_mode,
                    "headers": redact_headers(r.request_headers, env),
                    "body": r.request_body,
                },
            )
            put(run_dir / "raw" / "responses" / f"{stem}.txt", raw_excerpt(r.status, r.response_headers, r.raw, env))
            if r.error is not None:
                put_json(
                    run_dir / "errors" / f"{stem}.json",
                    {
                        "route": r.route,
                        "turn": a.turn,
                        "attempt": a.attempt,
                        "category": r.error.category,
                        "message": r.error.message,
                        "status": r.error.status,
                        "retry_after": r.error.retry_after,
                        "response_headers": redact_headers(r.response_headers, env),
                    },
                )
        put(run_dir / "conversation" / "conversation.md", self.transcript(scenario, cell))
        return run_dir

    def transcript(self, scenario: str, cell: str) -> str:
        """A readable Markdown transcript: calls and ``[retry]``/``[fallback]``/``[circuit-open]`` marks
        under the turn they belong to, each turn followed by the assistant message it produced."""
        out = [f"# Run {scenario} [{cell}]", ""]
        for key in ("outcome", "completion_reason", "error_category", "steps", "final_route"):
            if key in self.info:
                out.append(f"- {key}: {self.info[key]}")
        by_turn: dict[int, list[Attempt | Event]] = {}
        for entry in self.timeline:
            by_turn.setdefault(entry.turn, []).append(entry)
        # The k-th assistant message answers the k-th turn that had a successful call.
        answered = sorted({a.turn for a in self.attempts if a.record.ok})
        replies: dict[int, list[Message]] = {}
        preamble: list[Message] = []
        current: list[Message] = preamble
        index = 0
        for message in self.messages:
            if isinstance(message, AssistantMessage):
                turn = answered[index] if index < len(answered) else index + 1
                index += 1
                current = replies.setdefault(turn, [])
            current.append(message)
        for message in preamble:
            out += ["", *_render_message(message)]
        for turn in sorted(set(by_turn) | set(replies)):
            out += ["", f"## Turn {turn}" if turn > 0 else "## Before the first turn", ""]
            for entry in by_turn.get(turn, []):
                out.append(_render_entry(entry))
            for message in replies.get(turn, []):
                out += ["", *_render_message(message)]
        return "\n".join(out) + "\n"


def _render_entry(entry: Attempt | Event) -> str:
    if isinstance(entry, Event):
        return f"- [{entry.mark}] {entry.text}" if entry.mark else f"- {entry.text}"
    r = entry.record
    how = f"{'stream' if r.stream else 'no stream'}, {entry.tool_mode}"
    marks = ("[retry] " if entry.retry else "") + ("[fallback] " if entry.fallback else "")
    if r.error is not None:
        status = f" (HTTP {r.status})" if r.status is not None else ""
        result = f"error {r.error.category}{status}: {r.error.message}"
    else:
        finish = r.response.finish_reason if r.response else None
        result = f"ok, finish {finish}, {r.latency_ms:.1f} ms"
    return f"- {marks}call {entry.attempt} -> {r.route} ({how}): {result}"


def _render_message(message: Message) -> list[str]:
    if isinstance(message, SystemMessage):
        return ["### System", "", message.content]
    if isinstance(message, UserMessage):
        return ["### User", "", message.content]
    if isinstance(message, ToolResult):
        flag = " (error)" if message.is_error else ""
        return [f"### Tool result `{message.name}` ({message.call_id}){flag}", "", "```", message.content, "```"]
    if not isinstance(message, AssistantMessage):
        assert_never(message)
    lines = ["### Assistant", ""]
    if message.reasoning:
        lines += [f"> {line}" for line in message.reasoning.splitlines()] + [""]
    if message.text:
        lines.append(message.text)
    for call in message.tool_calls:
        args = call.raw_arguments or json.dumps(call.arguments, sort_keys=True)
        lines.append(f"- tool call `{call.name}` ({call.id}): `{args}`")
    return lines


def _new_run_dir(root: Path, scenario: str, cell: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    prefix = f"{stamp}_{safe_name(scenario)}_{safe_name(cell, 80)}_"
    while True:
        path = inside(root, prefix + uuid.uuid4().hex[:8])
        try:
            path.mkdir()  # no exist_ok: two runs can never share a directory
        except FileExistsError:
            continue
        return path
