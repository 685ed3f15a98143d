"""Drift between two versions of a cassette: what a re-record changed, and whether it matters.

Each interaction is read the way the runtime reads it (``normalize.normalize_interaction``: the
same protocol decoders as a live call), and the two versions are compared call by call:

- **behavioural**: the agent would act differently on the new traffic: the number of calls, a
  call's route or HTTP status, the tool calls (names, arguments, how many), the finish reason,
  the error category, whether the answer streams, or the structure of its event stream (the
  sequence of event kinds, repeats folded, so that a longer text in more deltas is the same
  structure);
- **benign**: only what the agent does not act on changed: the text and reasoning wording, the
  token usage, the latency (event offsets), tool-call ids, an error's message, the request the
  runtime sent (it repeats the history), or other response bytes (ids, timestamps);
- **identical**: the traffic is the same (the provenance, such as ``recorded_at``, may differ);
- **added** / **removed**: a cassette only one side has (a cell that appeared or went away).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from agent_runtime.messages import JSONObject
from pytest_kylecode.cassettes.format import CassetteFile, Interaction, split_events
from pytest_kylecode.normalize import normalize_interaction

__all__ = ["CassetteDrift", "Change", "Drift", "compare", "event_structure"]

Drift = Literal["behavioural", "benign", "identical", "added", "removed"]
# The order a report lists cassettes in: what needs a reviewer's eyes first.
ORDER: Final[tuple[Drift, ...]] = ("behavioural", "added", "removed", "benign", "identical")


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: where (``call #2``), what (``tool-call arguments``), old -> new."""

    where: str
    field: str
    detail: str
    behavioural: bool

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.detail}"


@dataclass(frozen=True, slots=True)
class CassetteDrift:
    path: str
    drift: Drift
    changes: tuple[Change, ...] = ()

    @property
    def fields(self) -> list[str]:
        """The names of the fields that changed, each once, behavioural ones first."""
        ordered = sorted(self.changes, key=lambda c: not c.behavioural)
        return list(dict.fromkeys(c.field for c in ordered))


def _short(value: object, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _event_kind(raw: bytes) -> str:
    """What kind of event one SSE event is: its ``event:`` name, else its data's ``type``, else
    (chat completions, which name neither) the delta fields it carries."""
    name = data = ""
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        if line.startswith(":"):
            return "comment"
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
    try:
        payload = json.loads(data) if data and data != "[DONE]" else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return name or data or "empty"
    kind = name or str(payload.get("type") or "")
    # The block a content event opens or continues (text, tool_use, thinking...).
    for key in ("content_block", "delta"):
        inner = payload.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            return f"{kind}({inner['type']})"
    choices = payload.get("choices")
    if not kind and isinstance(choices, list):
        carried = sorted(
            {
                field
                for choice in choices
                if isinstance(choice, dict)
                for field, value in (choice.get("delta") or {}).items()
                if value not in (None, "", [])
            }
            | {"finish_reason" for choice in choices if isinstance(choice, dict) and choice.get("finish_reason")}
        )
        if payload.get("usage"):
            carried.append("usage")
        return f"chunk({','.join(carried)})"
    return kind or "data"


def event_structure(interaction: Interaction) -> list[str]:
    """The kinds of a streamed answer's events in order, consecutive repeats folded into one."""
    if not interaction.is_sse:
        return []
    kinds: list[str] = []
    for _, raw in split_events(interaction.chunks):
        kind = _event_kind(raw)
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    return kinds


def _calls(record: JSONObject) -> list[JSONObject]:
    calls: list[JSONObject] = record["tool_calls"]
    return calls


def _call_changes(where: str, old: JSONObject, new: JSONObject) -> list[Change]:
    out: list[Change] = []
    old_calls, new_calls = _calls(old), _calls(new)
    old_names = [c["name"] for c in old_calls]
    new_names = [c["name"] for c in new_calls]
    if len(old_calls) != len(new_calls):
        out.append(Change(where, "number of tool calls", f"{len(old_calls)} -> {len(new_calls)}", True))
    if old_names != new_names:
        out.append(Change(where, "tool-call names", f"{old_names} -> {new_names}", True))
    for index, (a, b) in enumerate(zip(old_calls, new_calls, strict=False)):
        if a["name"] == b["name"] and a["arguments"] != b["arguments"]:
            detail = f"{a['name']}: {_short(a['arguments'])} -> {_short(b['arguments'])}"
            out.append(Change(f"{where}, tool call {index + 1}", "tool-call arguments", detail, True))
    if [c["id"] for c in old_calls] != [c["id"] for c in new_calls] and old_names == new_names:
        out.append(Change(where, "tool-call ids", "changed", False))
    return out


def _error_category(record: JSONObject) -> str | None:
    error = record["error"]
    return None if error is None else str(error["category"])


def _interaction_changes(index: int, old: Interaction, new: Interaction) -> list[Change]:
    where = f"call #{index + 1}"
    a, b = normalize_interaction(old, index), normalize_interaction(new, index)
    out: list[Change] = []

    def differs(field: str, old_value: object, new_value: object, *, behavioural: bool, show: bool = True) -> None:
        if old_value != new_value:
            detail = f"{_short(old_value)} -> {_short(new_value)}" if show else "changed"
            out.append(Change(where, field, detail, behavioural))

    differs("route", f"{old.method} {old.uri}", f"{new.method} {new.uri}", behavioural=True)
    differs("status", old.status, new.status, behavioural=True)
    differs("streaming", a["streaming"], b["streaming"], behavioural=True)
    differs("finish reason", a["finish_reason"], b["finish_reason"], behavioural=True)
    differs("error category", _error_category(a), _error_category(b), behavioural=True)
    out += _call_changes(where, a, b)
    structure_old, structure_new = event_structure(old), event_structure(new)
    if structure_old != structure_new:
        detail = f"{' '.join(structure_old) or '(not streamed)'} -> {' '.join(structure_new) or '(not streamed)'}"
        out.append(Change(where, "streamed event structure", detail, True))
    differs("text", a["text"], b["text"], behavioural=False)
    differs("reasoning", a["reasoning"], b["reasoning"], behavioural=False)
    differs("token usage", a["usage"], b["usage"], behavioural=False)
    if a["error"] and b["error"] and a["error"]["category"] == b["error"]["category"]:
        differs("error message", a["error"]["message"], b["error"]["message"], behavioural=False)
    differs("latency", [t for t, _ in old.chunks], [t for t, _ in new.chunks], behavioural=False, show=False)
    if old.request_json != new.request_json:
        keys = _changed_keys(old.request_json, new.request_json)
        out.append(Change(where, "request body", f"changed ({', '.join(keys)})" if keys else "changed", False))
    if not out and (old.body != new.body or old.response_headers != new.response_headers):
        out.append(Change(where, "other response bytes (ids, timestamps)", "changed", False))
    return out


def _changed_keys(old: object, new: object) -> list[str]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return []
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def _call_summary(record: JSONObject) -> str:
    names = [str(c["name"]) for c in _calls(record)]
    if names:
        return "tool calls " + ", ".join(names)
    if record["error"]:
        return f"error {record['error']['category']}"
    return f"finish {record['finish_reason'] or '-'}"


def _count_changes(old: Sequence[Interaction], new: Sequence[Interaction]) -> list[Change]:
    if len(old) == len(new):
        return []
    longer, sign = (new, "added") if len(new) > len(old) else (old, "removed")
    extra = [
        f"#{index + 1} {_call_summary(normalize_interaction(longer[index], index))}"
        for index in range(min(len(old), len(new)), len(longer))
    ]
    detail = f"{len(old)} -> {len(new)} ({sign}: {'; '.join(extra)})"
    return [Change("cassette", "number of calls", detail, True)]


def compare(path: str, old: CassetteFile | None, new: CassetteFile | None) -> CassetteDrift:
    """The drift of the cassette at ``path`` from ``old`` to ``new`` (``None``: absent on that side)."""
    if old is None:
        return CassetteDrift(path, "added")
    if new is None:
        return CassetteDrift(path, "removed")
    changes = _count_changes(old.interactions, new.interactions)
    for index, (a, b) in enumerate(zip(old.interactions, new.interactions, strict=False)):
        changes += _interaction_changes(index, a, b)
    if not changes:
        return CassetteDrift(path, "identical")
    drift: Drift = "behavioural" if any(c.behavioural for c in changes) else "benign"
    return CassetteDrift(path, drift, tuple(changes))


def sort_key(item: CassetteDrift) -> tuple[int, str]:
    return ORDER.index(item.drift), item.path


def format_text(drifts: Sequence[CassetteDrift], *, against: str) -> str:
    """One line a cassette (behavioural first), its changes indented below it, then the counts."""
    lines: list[str] = []
    for item in sorted(drifts, key=sort_key):
        fields = f" ({', '.join(item.fields)})" if item.fields else ""
        lines.append(f"{item.drift:<12} {item.path}{fields}")
        lines += [f"    {'!' if c.behavioural else '~'} {c}" for c in item.changes]
    lines.append(_counts(drifts, against=against))
    return "\n".join(lines) + "\n"


def _counts(drifts: Sequence[CassetteDrift], *, against: str) -> str:
    if not drifts:
        return f"no cassette changed against {against}"
    parts = [f"{sum(d.drift == kind for d in drifts)} {kind}" for kind in ORDER if any(d.drift == kind for d in drifts)]
    return f"{len(drifts)} changed cassettes against {against}: {', '.join(parts)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(drifts: Sequence[CassetteDrift], *, against: str) -> str:
    """The drift report for a re-record pull request: behavioural changes in full, first; the
    benign and identical cassettes as a folded list (a pull request body has a size limit)."""
    ordered = sorted(drifts, key=sort_key)
    lines = ["## Cassette drift", "", _counts(drifts, against=against) + "."]
    loud = [d for d in ordered if d.drift in ("behavioural", "added", "removed")]
    quiet = [d for d in ordered if d.drift in ("benign", "identical")]
    if loud:
        lines += ["", "| cassette | drift | what changed |", "|---|---|---|"]
        for item in loud:
            what = "<br>".join(_cell(str(c)) for c in item.changes if c.behavioural) or item.drift
            lines.append(f"| `{item.path}` | **{item.drift}** | {what} |")
    if quiet:
        lines += ["", f"<details><summary>{len(quiet)} benign or identical</summary>", ""]
        lines += ["| cassette | drift | fields |", "|---|---|---|"]
        lines += [f"| `{d.path}` | {d.drift} | {_cell(', '.join(d.fields)) or '-'} |" for d in quiet]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
