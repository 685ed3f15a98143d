"""Our cassette files: vcrpy's format, made readable and able to keep time.

A cassette is a vcrpy version-1 document (``interactions: [{request, response}]``)
with two extensions that vcrpy cannot express itself:

- JSON bodies are stored as data (``parsed_body``), never as escaped strings;
- streamed (SSE) bodies are stored as a list of events with their time offset
  in seconds from the request (``sse: [{t, event, data}]``), so replay can
  deliver them chunk by chunk and time-to-first-token survives;
- non-streamed bodies keep their arrival offset in ``t``; text that is not JSON
  stays ``body: {string}``, anything binary ``body: {base64}`` (never ``!!binary``).

``serialize``/``deserialize`` implement vcrpy's serializer interface, so plain
vcrpy can read our cassettes too (``vcr.register_serializer("kylecode", format)``):
deserializing folds the extensions back into ``body.string``.

A top-level ``kylecode:`` mapping carries provenance: recorded_at, upstream,
runtime version, scenario, cell and the scenario hash.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from agent_runtime.messages import JSONObject
from pytest_kylecode.cassettes.limits import loads_json, size_problem
from pytest_kylecode.cassettes.yamldata import load_data
from pytest_kylecode.failures import CassetteError

if TYPE_CHECKING:
    # libyaml's dumper when PyYAML was built with it; the checker knows the pure-Python one,
    # whose interface it shares.
    _BaseDumper = yaml.SafeDumper
else:
    _BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

JSON_TYPES = ("application/json", "+json")


@dataclass(slots=True)
class Interaction:
    """One recorded request/response pair, whichever cassette it came from (ours, or any vcrpy
    cassette through ``vcr_reader``). ``request_json`` is the request body as JSON (``None`` when
    it had none, or none that parses); ``chunks`` are (offset seconds, bytes) in arrival order."""

    method: str
    uri: str
    request_headers: dict[str, str]
    request_json: object
    status: int
    reason: str
    response_headers: dict[str, str]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.chunks)

    @property
    def is_sse(self) -> bool:
        return "text/event-stream" in self.response_headers.get("content-type", "")


@dataclass(slots=True)
class CassetteFile:
    meta: JSONObject
    interactions: list[Interaction]


# -- writing ------------------------------------------------------------------------------------


class _Dumper(_BaseDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (HTML pages, raw events) as literal blocks: readable and diffable.
    style = "|" if "\n" in value.rstrip("\n") and "\r" not in value and value == value.rstrip(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Flow(JSONObject):
    """A mapping written on one line: one SSE event per line keeps cassettes diffable."""


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def _round(t: float) -> float:
    return round(t, 4)


def _event_entry(offset: float, raw: bytes) -> _Flow:
    """One SSE event as ``{t, event, data}`` or ``{t, comment}`` when that form gives back the
    exact bytes, else ``{t, raw}`` (multi-line data, odd spacing: kept byte for byte)."""
    text = raw.decode("utf-8", errors="surrogateescape")
    entry = _Flow(t=_round(offset))
    lines = text[:-2].split("\n") if text.endswith("\n\n") else []
    if len(lines) == 1 and lines[0].startswith(":"):
        entry["comment"] = lines[0][1:]
    elif 1 <= len(lines) <= 2 and all(line.startswith(("event: ", "data: ")) for line in lines):
        for line in lines:
            name, _, value = line.partition(": ")
            entry[name] = value
    if len(entry) == 1 or _event_bytes(entry) != raw:
        entry = _Flow(t=_round(offset), raw=text)
    return entry


def _event_bytes(entry: JSONObject) -> bytes:
    """The bytes of one ``sse`` entry (a cassette's, or ``_event_entry``'s); a ``raw`` that is no
    string fails here, and the caller calls the interaction corrupt."""
    if "raw" in entry:
        raw: str = entry["raw"]
        return raw.encode("utf-8", errors="surrogateescape")
    if "comment" in entry:
        return f":{entry['comment']}\n\n".encode()
    head = f"event: {entry['event']}\n" if "event" in entry else ""
    return f"{head}data: {entry['data']}\n\n".encode()


def _headers_out(headers: dict[str, str]) -> dict[str, list[str]]:
    return {name: [value] for name, value in headers.items()}


def _response_out(item: Interaction) -> JSONObject:
    out: JSONObject = {
        "status": {"code": item.status, "message": item.reason},
        "headers": _headers_out(item.response_headers),
    }
    if item.is_sse:
        out["sse"] = [_event_entry(t, data) for t, data in split_events(item.chunks)]
        return out
    body = item.body
    out["t"] = _round(item.chunks[-1][0]) if item.chunks else 0.0
    content_type = item.response_headers.get("content-type", "")
    if body and any(marker in content_type for marker in JSON_TYPES):
        try:
            out["parsed_body"] = loads_json(body)
            return out
        except ValueError:  # no JSON, or too deep to be read back: kept as the text it is
            pass
    try:
        out["body"] = {"string": body.decode("utf-8")}
    except UnicodeDecodeError:
        out["body"] = {"base64": base64.b64encode(body).decode("ascii")}
    return out


def dumps(cassette: CassetteFile) -> str:
    data = {
        "version": 1,
        "kylecode": cassette.meta,
        "interactions": [
            {
                "request": {
                    "method": item.method,
                    "uri": item.uri,
                    "headers": _headers_out(item.request_headers),
                    "parsed_body": item.request_json,
                },
                "response": _response_out(item),
            }
            for item in cassette.interactions
        ],
    }
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def split_events(chunks: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """Re-cut arbitrary network chunks at SSE event boundaries; an event takes the time it completed."""
    events: list[tuple[float, bytes]] = []
    buffer = b""
    for offset, data in chunks:
        buffer += data.replace(b"\r\n", b"\n")
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            events.append((offset, buffer[: end + 2]))
            buffer = buffer[end + 2 :]
    if buffer:
        events.append((chunks[-1][0], buffer))  # a partial event at the end is genuine traffic too
    return events


# -- reading ------------------------------------------------------------------------------------


def loads(text: str, *, source: str) -> CassetteFile:
    from agent_runtime.yamlsource import YAMLSourceError, load

    too_big = size_problem(len(text))
    if too_big:
        raise CassetteError(f"{source}: {too_big}")
    try:
        # An alias bomb or deep nesting is refused, not hung (yamlsource.load); plain data, which
        # can be neither, takes the fast path (yamldata: 1.0 ms instead of 3.5 ms a cassette).
        data = load_data(text, fallback=lambda t: load(source, t).data)
    except YAMLSourceError as exc:
        raise CassetteError(f"{exc.where}: corrupt cassette ({exc.problem})") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteError(f"{source}: not a cassette (expected a mapping with an 'interactions' list)")
    if data.get("version", 1) != 1:  # another format's numbers would be misread, not refused
        raise CassetteError(
            f"{source}: unsupported cassette version {data['version']!r} (version 1 only); re-record it"
        )
    items = []
    for index, raw in enumerate(data["interactions"]):
        try:
            items.append(_interaction_in(raw))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CassetteError(f"{source}: interaction {index} is corrupt ({type(exc).__name__}: {exc})") from None
    meta = data.get("kylecode") or {}
    if not isinstance(meta, dict):
        raise CassetteError(f"{source}: 'kylecode' provenance must be a mapping")
    return CassetteFile(meta, items)


def _headers_in(headers: Mapping[str, object] | None) -> dict[str, str]:
    out = {}
    for name, value in (headers or {}).items():
        out[str(name).lower()] = str(value[0] if isinstance(value, list) else value)
    return out


def _interaction_in(raw: JSONObject) -> Interaction:
    request, response = raw["request"], raw["response"]
    headers = _headers_in(response.get("headers"))
    if "sse" in response:
        chunks = [(float(e["t"]), _event_bytes(e)) for e in response["sse"]]
    else:
        t = float(response.get("t", 0.0))
        if "parsed_body" in response:
            body = json.dumps(response["parsed_body"], ensure_ascii=False, separators=(",", ":")).encode()
        else:
            body_field = response.get("body") or {}
            body = (
                base64.b64decode(body_field["base64"])
                if "base64" in body_field
                else str(body_field.get("string", "")).encode()
            )
        chunks = [(t, body)] if body else []
    request_json = request.get("parsed_body")
    if request_json is None and request.get("body"):
        request_json = loads_json(request["body"])
    status = response["status"]
    return Interaction(
        method=str(request["method"]).upper(),
        uri=str(request["uri"]),
        request_headers=_headers_in(request.get("headers")),
        request_json=request_json,
        status=int(status["code"]),
        reason=str(status.get("message", "")),
        response_headers=headers,
        chunks=chunks,
    )


# The most recently parsed cassettes, by path, valid while mtime and size hold. Bounded: a matrix
# reads each cell's cassette once, so an unbounded cache only grew (26 KB a cell, 260 MB for
# 10,000 cells) while the re-reads it serves (record modes, inspect) come right after the first.
_CACHE: OrderedDict[Path, tuple[tuple[int, int], CassetteFile]] = OrderedDict()
_CACHE_SIZE = 32


def load(path: Path) -> CassetteFile:
    """Parse ``path``, or reuse a recent parse of it (same mtime and size); raises CassetteError."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise
    too_big = size_problem(stat.st_size)
    if too_big:
        raise CassetteError(f"{path}: {too_big}")
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        _CACHE.move_to_end(path)
        return cached[1]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CassetteError(f"{path}: corrupt cassette (not UTF-8 at byte {exc.start})") from None
    cassette = loads(text, source=str(path))
    _CACHE[path] = (stamp, cassette)
    _CACHE.move_to_end(path)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return cassette


# -- vcrpy serializer interface -------------------------------------------------------------------


def deserialize(cassette_string: str) -> JSONObject:
    """For vcrpy: our readable form folded back into vcrpy's ``body.string`` shape."""
    cassette = loads(cassette_string, source="<cassette>")
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": item.method,
                    "uri": item.uri,
                    "headers": {k: [v] for k, v in item.request_headers.items()},
                    "body": json.dumps(item.request_json) if item.request_json is not None else None,
                },
                "response": {
                    "status": {"code": item.status, "message": item.reason},
                    "headers": {k: [v] for k, v in item.response_headers.items()},
                    "body": {"string": item.body},
                },
            }
            for item in cassette.interactions
        ],
    }


def serialize(cassette_dict: JSONObject) -> str:
    """For vcrpy: a cassette vcrpy recorded, written in our form (no timing: vcrpy has none)."""
    items = []
    for interaction in cassette_dict["interactions"]:
        request, response = interaction["request"], interaction["response"]
        body = request.get("body")
        body = body.decode() if isinstance(body, bytes) else body
        resp_body = response["body"]["string"]
        resp_body = resp_body.encode() if isinstance(resp_body, str) else resp_body
        items.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                request_headers=_headers_in(request.get("headers")),
                request_json=loads_json(body) if body else None,
                status=response["status"]["code"],
                reason=response["status"].get("message", ""),
                response_headers=_headers_in(response.get("headers")),
                chunks=[(0.0, resp_body)] if resp_body else [],
            )
        )
    return dumps(CassetteFile({}, items))
