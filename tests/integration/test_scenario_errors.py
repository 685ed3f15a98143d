"""A malformed scenario becomes one failing item naming file:line, the key and the fix; the rest still runs."""

from __future__ import annotations

from matrix_helpers import BASIC, Matrix


def _failure_text(result) -> str:  # type: ignore[no-untyped-def]
    return result.stdout.str()


def test_a_typo_names_file_line_key_and_the_nearest_name(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.scenario("broken", BASIC.replace("name: basic", "name: broken").replace("max_steps: 6", "max_step: 6"))
    matrix.record()
    result = matrix.replay("-q")
    result.assert_outcomes(passed=6, failed=1)
    text = _failure_text(result)
    assert "scenarios/broken.yaml:5: agent.max_step: unknown key 'max_step' (did you mean 'max_steps'?)" in text
    assert "Traceback" not in text


def test_yaml_syntax_error_is_an_item_not_a_collection_error(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.scenario("syntax", "name: syntax\ntask: [unclosed\nscript: []\n")
    matrix.record()
    result = matrix.replay("-q")
    result.assert_outcomes(passed=6, failed=1)
    assert "scenarios/syntax.yaml:3: invalid YAML" in _failure_text(result)
    assert "errors" not in result.parseoutcomes()


def test_unknown_fault_and_provider_suggest_the_fix(matrix: Matrix) -> None:
    matrix.scenario(
        "fault", BASIC.replace("name: basic", "name: fault").replace("fault: [none]", "fault: [none, http_503x]")
    )
    matrix.scenario(
        "prov", BASIC.replace("name: basic", "name: prov").replace("openai/gpt-4o-mini,", "opnai/gpt-4o-mini,")
    )
    result = matrix.replay("-q")
    result.assert_outcomes(failed=2)
    text = _failure_text(result)
    assert "fault.yaml:16: matrix.fault[1]: unknown fault 'http_503x' (did you mean 'http_503'?)" in text
    assert "prov.yaml:13: matrix.provider[0]: unknown provider 'opnai'" in text and "did you mean 'openai'?" in text


def test_duplicate_scenario_names_are_reported_on_the_second_file(matrix: Matrix) -> None:
    matrix.scenario("a_first", BASIC)
    matrix.scenario("b_second", BASIC)
    result = matrix.run("--collect-only", "-q")
    out = result.stdout.str()
    assert "scenarios/b_second.yaml::b_second.yaml::invalid" in out
    assert out.count("scenarios/a_first.yaml::basic[") == 6


def test_wrong_types_and_bad_expectations(matrix: Matrix) -> None:
    matrix.scenario("types", BASIC.replace("name: basic", "name: types").replace("steps: 3", "steps: many"))
    result = matrix.replay("-q")
    assert (
        'types.yaml:20: expect.steps: expected a number or a comparison such as ">=1" or "<=6", got \'many\''
        in _failure_text(result)
    )


def test_empty_matrix_axis(matrix: Matrix) -> None:
    matrix.scenario("empty", BASIC.replace("name: basic", "name: empty").replace("tools: [native]", "tools: []"))
    result = matrix.replay("-q")
    assert "empty.yaml:15: the matrix is empty: 'matrix.tools' lists no value" in _failure_text(result)
