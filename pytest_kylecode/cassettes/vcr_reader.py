"""Read any vcrpy cassette (format version 1) into the interactions our own cassettes hold.

Cassettes recorded by other projects differ in how they store bodies; all of these
come back as bytes:

- ``body: {string: <str>}`` (plain vcrpy) or ``body: {string: !!binary ...}`` (bytes);
- ``parsed_body: <mapping>`` instead of ``body`` (pydantic-ai's serializer), re-serialized
  with ``json.dumps``;
- gzip (or deflate) bytes with ``Content-Encoding`` kept, or gzip bytes without it
  (detected by the magic number): decompressed, and ``content-encoding`` /
  ``content-length`` are dropped from the returned headers since they no longer apply.

Header names are lower-cased; repeated values are joined with ``", "``. YAML is read with a
safe loader that understands ``!!binary`` (``agent_runtime.yamlsource``). A corrupt
cassette raises ``CassetteError`` naming the file and, when it is one interaction's fault,
its index — never "treat as empty" (vcrpy's behaviour).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.cassettes.limits import TooDeep, loads_json, size_problem
from pytest_kylecode.failures import CassetteError

__all__ = ["load_yaml", "parse_cassette", "read_cassette"]

_GZIP_MAGIC = b"\x1f\x8b"


def load_yaml(path: str | Path) -> object:
    """The YAML document at ``path``; ``CassetteError`` for a missing, unreadable or invalid file."""
    from agent_runtime.yamlsource import YAMLSourceError, load

    path = Path(path)
    try:
        too_big = size_problem(path.stat().st_size)
        if too_big:
            raise CassetteError(f"{path}: {too_big}")
        return load(path).data  # an alias bomb or deep nesting: refused, not hung
    except YAMLSourceError as exc:
        raise CassetteError(f"{exc.where}: corrupt cassette ({exc.problem})") from None
    except FileNotFoundError:
        raise CassetteError(f"{path}: no such cassette file") from None
    except OSError as exc:
        raise CassetteError(f"{path}: cannot read cassette ({exc.strerror or exc})") from None


def read_cassette(path: str | Path) -> list[Interaction]:
    """All interactions of the vcrpy cassette at ``path``, in order."""
    return parse_cassette(load_yaml(path), source=str(path))


def parse_cassette(data: object, *, source: str) -> list[Interaction]:
    """Interactions of an already loaded cassette document; ``source`` names it in errors."""
    if not isinstance(data, Mapping) or not isinstance(data.get("interactions"), list):
        raise CassetteError(f"{source}: not a vcrpy cassette (expected a mapping with an 'interactions' list)")
    version = data.get("version", 1)
    if version != 1:
        raise CassetteError(f"{source}: unsupported cassette version {version!r} (vcrpy format version 1 only)")
    out = []
    for index, raw in enumerate(data["interactions"]):
        if isinstance(raw, Mapping) and isinstance(raw.get("response"), Mapping) and "sse" in raw["response"]:
            # Our own format keeps SSE bodies as event lists; reading it here would lose them.
            raise CassetteError(
                f"{source}: interaction {index} is in kylecode's own cassette format "
                "(SSE events with offsets): read it with pytest_kylecode.cassettes.format"
            )
        try:
            out.append(_interaction(raw))
        except (KeyError, TypeError, ValueError, AttributeError, OSError, EOFError, zlib.error) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise CassetteError(f"{source}: interaction {index} is corrupt ({detail})") from None
    return out


def _interaction(raw: Mapping[str, Any]) -> Interaction:
    request, response = raw["request"], raw["response"]
    status = response["status"]
    code, reason = (status["code"], status.get("message") or "") if isinstance(status, Mapping) else (status, "")
    headers = _headers(response.get("headers"))
    body = _body(response)
    encoding = headers.get("content-encoding", "").lower()
    if body[:2] == _GZIP_MAGIC or "gzip" in encoding:
        body = gzip.decompress(body)
        headers = _without_encoding(headers)
    elif "deflate" in encoding:
        body = zlib.decompress(body)
        headers = _without_encoding(headers)
    return Interaction(
        method=str(request["method"]).upper(),
        uri=str(request["uri"]),
        request_headers=_headers(request.get("headers")),
        request_json=_json_or_none(_body(request)),
        status=int(code),
        reason=str(reason),
        response_headers=headers,
        chunks=[(0.0, body)] if body else [],  # foreign cassettes keep no timing
    )


def _json_or_none(body: bytes) -> object:
    if not body.strip():
        return None
    try:
        return loads_json(body)
    except TooDeep:
        raise
    except ValueError:
        return None


def _headers(raw: Mapping[str, object] | None) -> dict[str, str]:
    if not raw:
        return {}
    out: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out[str(name).lower()] = str(value)
    return out


def _without_encoding(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("content-encoding", "content-length")}


def _body(message: Mapping[str, Any]) -> bytes:
    """The body of a vcrpy request or response, whatever way it was stored."""
    if "parsed_body" in message:
        return json.dumps(message["parsed_body"]).encode("utf-8")
    body = message.get("body")
    if isinstance(body, Mapping):  # responses: {string: ...}
        body = body.get("string")
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(f"body must be a string or bytes, got {type(body).__name__}")
