"""The depth a JSON body of a cassette may nest, and the size a cassette may have."""

from __future__ import annotations

import json

import pytest

from pytest_kylecode.cassettes.limits import MAX_CASSETTE_BYTES, MAX_DEPTH, TooDeep, loads_json, size_problem


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[1]" + "}" * (depth - 1)


def test_json_up_to_the_limit_reads_as_json_does() -> None:
    text = nested(MAX_DEPTH)
    assert loads_json(text) == json.loads(text)
    assert loads_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200_000])
def test_deeper_json_is_refused_before_it_is_decoded(depth: int) -> None:
    with pytest.raises(TooDeep, match=f"nests {depth} levels deep; at most {MAX_DEPTH}"):
        loads_json(nested(depth))


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"text": "[" * 5000 + "{" * 5000, "list": [[['quote " and [[[']]]})
    assert loads_json(text) == json.loads(text)


def test_too_deep_is_no_json_to_callers_that_fall_back_to_text() -> None:
    assert issubclass(TooDeep, ValueError)


def test_the_size_limit() -> None:
    assert size_problem(MAX_CASSETTE_BYTES) is None
    assert "over the limit" in (size_problem(MAX_CASSETTE_BYTES + 1) or "")
