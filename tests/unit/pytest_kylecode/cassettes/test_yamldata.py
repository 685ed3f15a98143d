"""``yamldata.load_data`` returns exactly what ``yaml.load`` with the safe C loader returns (or raises)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_kylecode.cassettes.format import dumps, loads
from pytest_kylecode.cassettes.yamldata import _from_events, _Unsupported, load_data

ROOT = Path(__file__).resolve().parents[4]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types and the same key order all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def check(text: str) -> None:
    try:
        expected: Any = yaml.load(text, Loader=_Loader)
    except Exception as exc:
        with pytest.raises(type(exc)) as raised:
            load_data(text)
        assert str(raised.value) == str(exc)
        return
    try:
        got = _from_events(text)
    except _Unsupported:
        return  # the loader's own answer, by construction
    assert same(got, expected)
    assert same(load_data(text), expected)


@pytest.mark.parametrize("where", ["cassettes", "scenarios", "examples", "tests"])
def test_every_yaml_file_of_the_project(where: str) -> None:
    files = sorted((ROOT / where).rglob("*.y*ml"))
    assert files, f"no YAML under {where}/: this test would check nothing"
    fast = 0
    for path in files:
        if "bomb" in path.name:  # expands exponentially when compared; the fast path refuses aliases anyway
            with pytest.raises(_Unsupported):
                _from_events(path.read_text(encoding="utf-8"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        check(text)
        try:
            _from_events(text)
            fast += 1
        except Exception:
            continue
    if where == "cassettes":
        assert fast == len(files)  # every cassette we write takes the fast path


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---\n",
        "a: 1\n",
        "- 1\n- 2.5\n- .inf\n- -.Inf\n- .nan\n- 0x1f\n- 0o17\n- 1_000\n- 1:20\n- +12\n",
        "a: yes\nb: No\nc: on\nd: ~\ne: null\nf: ''\ng: '1'\nh: \"true\"\n",
        "when: 2026-11-23\nat: 2026-11-23T13:12:42Z\nquoted: '2026-11-23T13:12:42Z'\n",
        "a: &x {b: 1}\nc: *x\n",
        "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
        "data: !!binary aGVsbG8=\n",
        "s: !!str 12\n",
        "t: !custom x\n",
        "? [1, 2]\n: v\n",
        "? {a: 1}\n: v\n",
        "a: 1\na: 2\n",
        "--- 1\n--- 2\n",
        "a: [1, {b: [c, {d: e}]}, [], {}]\n",
        "block: |\n  line 1\n  line 2\nfolded: >-\n  a\n  b\n",
        'sse:\n- {t: 0.0, event: message_start, data: \'{"a": 1}\'}\n- {t: 0.25, raw: "data: x\\n\\n"}\n',
        "a: [\n",
        "a: b: c\n",
        "\t- x\n",
        "key: 'unterminated\n",
        "[" * 100 + "]" * 100,
        "{a: " * 80 + "1" + "}" * 80,
        "null: 1\n1: one\n1.5: x\ntrue: t\n",
        "- - - deep\n",
        "just a scalar\n",
        "42\n",
    ],
)
def test_tricky_documents(text: str) -> None:
    check(text)


def test_a_cassette_we_write_reads_back_through_the_fast_path() -> None:
    from pytest_kylecode.cassettes.format import CassetteFile, Interaction

    item = Interaction(
        method="POST",
        uri="https://api.openai.com/v1/chat/completions",
        request_headers={"content-type": "application/json"},
        request_json={
            "model": "m",
            "n": 1,
            "x": 1.5,
            "flag": True,
            "none": None,
            "s": "yes",
            "date": "2026-11-23",
            "multi": "a\nb\n",
            "nested": [{"k": ["v"]}],
        },
        status=200,
        reason="OK",
        response_headers={"content-type": "text/event-stream"},
        chunks=[(0.1, b'data: {"a": 1}\n\n'), (0.25, b"data: [DONE]\n\n")],
    )
    text = dumps(CassetteFile({"scenario": "s"}, [item]))
    _from_events(text)  # no fallback
    back = loads(text, source="<test>")
    assert back.interactions[0].request_json == item.request_json
    assert back.interactions[0].chunks == item.chunks


def test_the_parse_cache_is_bounded_and_follows_the_file(tmp_path: Path) -> None:
    from pytest_kylecode.cassettes import format as fmt

    paths = []
    for n in range(fmt._CACHE_SIZE + 8):
        path = tmp_path / f"c{n}.yaml"
        path.write_text(f"version: 1\ninteractions: []\nkylecode: {{n: {n}}}\n", encoding="utf-8")
        paths.append(path)
        assert fmt.load(path).meta == {"n": n}
    assert len(fmt._CACHE) <= fmt._CACHE_SIZE
    last = paths[-1]
    assert fmt.load(last) is fmt.load(last)  # a re-read of a recent cassette is not parsed again
    last.write_text("version: 1\ninteractions: []\nkylecode: {n: changed}\n", encoding="utf-8")
    assert fmt.load(last).meta == {"n": "changed"}
