"""Reading any vcrpy cassette: body storage forms, gzip, headers, and corrupt files."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
import yaml
from shared_dir import REALWORLD

from pytest_kylecode.cassettes.vcr_reader import parse_cassette, read_cassette
from pytest_kylecode.failures import CassetteError

SSE_TEXT = 'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cassette(*interactions: dict, version: int = 1) -> dict:
    return {"interactions": list(interactions), "version": version}


def interaction(response: dict, request: dict | None = None) -> dict:
    return {
        "request": request
        or {
            "method": "post",
            "uri": "https://api.anthropic.com/v1/messages",
            "body": '{"stream": true}',
            "headers": {"Content-Type": ["application/json"]},
        },
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, **response},
    }


def test_plain_string_body_and_header_lists(tmp_path: Path) -> None:
    data = cassette(
        interaction(
            {"headers": {"Content-Type": ["text/event-stream"], "X-Multi": ["a", "b"]}, "body": {"string": SSE_TEXT}}
        )
    )
    [it] = read_cassette(write(tmp_path, yaml.safe_dump(data)))
    assert (it.method, it.uri) == ("POST", "https://api.anthropic.com/v1/messages")
    assert it.request_headers == {"content-type": "application/json"}
    assert it.request_json == {"stream": True}
    assert (it.status, it.reason) == (200, "OK")
    assert it.response_headers == {"content-type": "text/event-stream", "x-multi": "a, b"}
    assert it.body == SSE_TEXT.encode()


def test_binary_gzip_body_with_content_encoding(tmp_path: Path) -> None:
    packed = base64.encodebytes(gzip.compress(SSE_TEXT.encode())).decode()
    text = (
        "interactions:\n- request: {method: POST, uri: 'https://x/v1/messages', body: null, headers: {}}\n"
        "  response:\n    status: {code: 200, message: OK}\n"
        "    headers: {Content-Encoding: [gzip], Content-Length: ['99'], Content-Type: [text/event-stream]}\n"
        "    body:\n      string: !!binary |\n"
        + "".join(f"        {line}\n" for line in packed.splitlines())
        + "version: 1\n"
    )
    [it] = read_cassette(write(tmp_path, text))
    assert it.body == SSE_TEXT.encode()
    # the body is no longer encoded: the headers must not say so any more
    assert it.response_headers == {"content-type": "text/event-stream"}
    assert it.request_json is None


def test_gzip_detected_by_magic_without_a_header(tmp_path: Path) -> None:
    data = cassette(interaction({"body": {"string": gzip.compress(b'{"a": 1}')}}))
    [it] = read_cassette(write(tmp_path, yaml.safe_dump(data)))
    assert it.body == b'{"a": 1}'


def test_parsed_body_on_request_and_response(tmp_path: Path) -> None:
    request = {
        "method": "POST",
        "uri": "https://api.openai.com/v1/chat/completions",
        "headers": {},
        "parsed_body": {"model": "gpt-4o", "stream": False},
    }
    data = cassette(
        interaction(
            {"headers": {"content-type": ["application/json"]}, "parsed_body": {"choices": [], "id": "x"}}, request
        )
    )
    [it] = read_cassette(write(tmp_path, yaml.safe_dump(data)))
    assert json.loads(it.body) == {"choices": [], "id": "x"}
    assert it.request_json == {"model": "gpt-4o", "stream": False}


def test_status_as_plain_int_and_missing_headers(tmp_path: Path) -> None:
    data = cassette(
        {
            "request": {"method": "GET", "uri": "https://openrouter.ai/api/v1/models"},
            "response": {"status": 404, "body": {"string": ""}},
        }
    )
    [it] = read_cassette(write(tmp_path, yaml.safe_dump(data)))
    assert (it.status, it.reason, it.response_headers, it.body) == (404, "", {}, b"")
    assert it.request_json is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interactions: [\n", "c.yaml:2: corrupt cassette (invalid YAML"),
        ("- just\n- a list\n", "not a vcrpy cassette"),
        ("interactions: []\nversion: 2\n", "unsupported cassette version 2"),
        (
            "interactions:\n- request: {method: GET}\n  response: {status: {code: 200}}\nversion: 1\n",
            "interaction 0 is corrupt (missing key 'uri')",
        ),
        (
            "interactions:\n- request: {method: GET, uri: u}\n  response: {status: {code: 200}, body: {string: x}}\n"
            "- request: {method: GET, uri: u}\n  response: {status: {code: 200}, body: {string: [1]}}\nversion: 1\n",
            "interaction 1 is corrupt (TypeError",
        ),
        (
            "interactions:\n- request: {method: GET, uri: u}\n  response:\n    status: {code: 200}\n"
            "    headers: {content-encoding: [gzip]}\n    body: {string: not gzip}\nversion: 1\n",
            "interaction 0 is corrupt",
        ),
    ],
)
def test_corrupt_cassettes_name_the_file_and_interaction(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CassetteError) as info:
        read_cassette(path)
    assert str(path) in str(info.value) or "c.yaml" in str(info.value)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="no such cassette file"):
        read_cassette(tmp_path / "absent.yaml")


def test_parse_cassette_from_loaded_data() -> None:
    data = cassette(interaction({"body": {"string": "x"}}))
    assert parse_cassette(data, source="mem")[0].body == b"x"
    with pytest.raises(CassetteError, match=r"^mem: not a vcrpy cassette"):
        parse_cassette({"interactions": "nope"}, source="mem")


@pytest.mark.skipif(not REALWORLD.is_dir(), reason=f"real-world recordings not found at {REALWORLD}")
def test_every_realworld_cassette_reads() -> None:
    counts = {}
    for path in sorted(REALWORLD.glob("*/*.yaml")):
        interactions = read_cassette(path)
        assert interactions, path
        for it in interactions:
            assert it.body[:2] != b"\x1f\x8b"  # everything decompressed
            assert "content-encoding" not in it.response_headers
        counts[path.name] = len(interactions)
    assert len(counts) == 37 and sum(counts.values()) == 59
    # the gzip + !!binary ones (llm-anthropic) come back as SSE text
    [it] = read_cassette(REALWORLD / "anthropic" / "llm-anthropic__test_stream_events_tool_calls.yaml")
    assert it.body.startswith(b"event: message_start\n")


def test_our_own_format_is_refused_rather_than_read_with_empty_bodies() -> None:
    data = cassette(interaction({"sse": [{"t": 0.1, "data": "[DONE]"}]}))
    with pytest.raises(CassetteError, match="interaction 0 is in kylecode's own cassette format"):
        parse_cassette(data, source="ours.yaml")
