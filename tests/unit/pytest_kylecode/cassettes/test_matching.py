"""What replay compares a request on: ignored body paths, ignored headers, the hook, the miss diff."""

from __future__ import annotations

import dataclasses

import pytest

from agent_runtime.errors import ConfigError
from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.cassettes.matching import IGNORED, Matcher, MatchRequest, MatchRules, parse_match_rules

URI = "https://api.openai.com/v1/chat/completions"


def _item(body: object, headers: dict[str, str] | None = None) -> Interaction:
    return Interaction("POST", URI, headers or {"content-type": "application/json"}, body, 200, "OK", {})


def _find(rules: MatchRules, recorded: object, sent: object, headers: dict[str, str] | None = None) -> int | None:
    matcher = Matcher([_item(recorded)], rules)
    return matcher.find([False], matcher.request("POST", URI, headers or {"Content-Type": "application/json"}, sent))


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi", "id": "a"}], "metadata": {"run": "1", "n": 2}}


def test_matching_is_exact_on_everything_not_ignored() -> None:
    assert _find(MatchRules(), BODY, BODY) == 0
    changed = {**BODY, "model": "other"}
    assert _find(MatchRules.defaults(), BODY, changed) is None


@pytest.mark.parametrize("path", ["messages.*.id", "messages.0.id", "*.0.id"])
def test_a_dotted_path_with_wildcards_ignores_a_value(path: str) -> None:
    sent = {**BODY, "messages": [{"role": "user", "content": "hi", "id": "b"}]}
    assert _find(MatchRules(), BODY, sent) is None
    assert _find(MatchRules((path,)), BODY, sent) == 0


def test_an_ignored_field_may_be_absent_on_one_side_but_the_rest_still_counts() -> None:
    rules = MatchRules(("metadata.*",))
    assert _find(rules, BODY, {**BODY, "metadata": {}}) == 0
    assert _find(rules, BODY, {**BODY, "metadata": {"run": "2", "n": 3}}) == 0
    assert _find(rules, BODY, {**BODY, "metadata": {}, "model": "x"}) is None
    # a wildcard over a list keeps its positions: a missing element is still a difference
    listed = MatchRules(("messages.*",))
    assert _find(listed, BODY, {**BODY, "messages": []}) is None


def test_the_defaults_ignore_openai_agents_prompt_cache_key() -> None:
    first, second = {**BODY, "prompt_cache_key": "agents-sdk:run:aa"}, {**BODY, "prompt_cache_key": "agents-sdk:run:bb"}
    assert _find(MatchRules(), first, second) is None
    assert _find(MatchRules.defaults(), first, second) == 0


def test_recorded_headers_are_compared_unless_ignored() -> None:
    rules = MatchRules()
    assert _find(rules, BODY, BODY, {"content-type": "text/plain"}) is None
    assert _find(MatchRules(ignore_headers=("content-*",)), BODY, BODY, {"content-type": "text/plain"}) == 0
    # a header the cassette did not keep cannot be compared
    assert _find(rules, BODY, BODY, {"content-type": "application/json", "x-new": "1"}) == 0


def test_the_miss_report_marks_ignored_paths() -> None:
    rules = MatchRules(("messages.*.id",))
    matcher = Matcher([_item(BODY)], rules)
    sent = {**BODY, "model": "other", "messages": [{"role": "user", "content": "hi", "id": "zz"}]}
    report = matcher.miss_report([False], matcher.request("POST", URI, {"content-type": "application/json"}, sent))
    assert "ignored, not compared (<ignored> below): messages.0.id" in report
    assert '+  "model": "other"' in report and '"zz"' not in report
    # in the diff an ignored value shows as the marker on both sides, so it is no difference
    assert Matcher([_item(BODY)], rules).rules.masked(sent, marker=True)["messages"][0]["id"] == IGNORED  # type: ignore[index]


def test_rules_extend_each_other() -> None:
    merged = MatchRules(("a",), ("h",), "m:f").extended(MatchRules(("b", "a"), (), None))
    assert merged == MatchRules(("a", "b"), ("h",), "m:f")


def test_identity_leaves_ignored_fields_out() -> None:
    rules = MatchRules(("messages.*.id",))
    one, two = _item(BODY), _item({**BODY, "messages": [{"role": "user", "content": "hi", "id": "q"}]})
    assert rules.identity(one) == rules.identity(two) and one != two


def test_a_hook_must_return_the_request(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    module = types.ModuleType("kylecode_test_hooks")
    module.good = lambda request: dataclasses.replace(request, body=None)  # type: ignore[attr-defined]
    module.bad = lambda request: request.body  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kylecode_test_hooks", module)
    assert _find(MatchRules(before_match="kylecode_test_hooks:good"), BODY, {"x": 1}) == 0
    with pytest.raises(ConfigError, match="returned dict, not the MatchRequest"):
        Matcher([_item(BODY)], MatchRules(before_match="kylecode_test_hooks:bad"))
    with pytest.raises(ConfigError, match="cannot import module 'nowhere_at_all'"):
        Matcher([], MatchRules(before_match="nowhere_at_all:f"))
    assert isinstance(MatchRequest("GET", URI, {}, None), MatchRequest)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"ignore_body": ["a..b"]}, "match.ignore_body.0"),
        ({"ignore_body": [3]}, "match.ignore_body.0"),
        ({"ignore_headers": [""]}, "match.ignore_headers.0"),
        ({"before_match": "nocolon"}, "match.before_match"),
        ({"nope": 1}, "match.nope"),
        (["x"], "match"),
    ],
)
def test_bad_rules_name_the_place_and_the_key(data: object, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_match_rules(data, lambda keypath: "s.yaml:7")
    assert info.value.where == "s.yaml:7" and info.value.key == key
