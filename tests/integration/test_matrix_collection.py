"""--kylecode-matrix: scenario files become real pytest items, one per cell, named by their four axes."""

from __future__ import annotations

import re

from matrix_helpers import BASIC, Matrix


def _ids(output: list[str]) -> list[str]:
    return [line.strip() for line in output if "::" in line]


def test_cell_ids_name_the_four_axes(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    result = matrix.run("--collect-only", "-q")
    ids = _ids(result.outlines)
    assert "scenarios/basic.yaml::basic[openai/gpt-4o-mini-stream-native-none]" in ids
    assert "scenarios/basic.yaml::basic[openai-responses/gpt-4.1-nostream-native-none]" in ids
    assert len(ids) == 6


def test_collection_is_deterministic(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.scenario("other", BASIC.replace("name: basic", "name: other"))
    first = _ids(matrix.run("--collect-only", "-q").outlines)
    second = _ids(matrix.run("--collect-only", "-q").outlines)
    assert first == second and len(first) == 12


def test_without_the_flag_nothing_is_collected(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = matrix.pytester.runpytest("--collect-only", "-q")
    assert _ids(result.outlines) == ["test_plain.py::test_plain"]


def test_without_the_flag_the_plugin_imports_nothing_heavy(matrix: Matrix) -> None:
    matrix.pytester.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    prefixes = ('pytest_kylecode.', 'agent_runtime', 'vcr', 'jinja2')\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith(prefixes))\n"
        "    print('LOADED', loaded)\n"
    )
    matrix.pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = matrix.pytester.runpytest_subprocess("-s", "-q")
    # (httpx itself may be loaded by other plugins, such as respx's: not ours to judge)
    line = next(line for line in result.outlines if "LOADED" in line)
    assert line.endswith(
        "LOADED ['pytest_kylecode.cassettes', 'pytest_kylecode.cassettes.modes', "
        "'pytest_kylecode.options', 'pytest_kylecode.plugin', 'pytest_kylecode.project']"
    )


def test_with_the_flag_testpaths_are_not_collected(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\ntestpaths = tests\n")
    (matrix.root / "tests").mkdir()
    (matrix.root / "tests" / "test_unit.py").write_text("def test_unit():\n    pass\n")
    ids = _ids(matrix.run("--collect-only", "-q").outlines)
    assert ids and all(i.startswith("scenarios/basic.yaml::") for i in ids)


def test_keyword_selection_works_on_axes(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    result = matrix.replay("-k", "anthropic and nostream", "-q")
    result.assert_outcomes(passed=1, deselected=5)


def test_cells_are_real_functions_with_fixtures(matrix: Matrix) -> None:
    """Module-scoped and autouse conftest fixtures run for cells, as for any test function."""
    matrix.scenario("basic", BASIC)
    (matrix.root / "scenarios" / "conftest.py").write_text(
        "import pytest\n"
        "SEEN = []\n"
        "@pytest.fixture(scope='module')\n"
        "def per_module():\n"
        "    SEEN.append('module')\n"
        "    return 'm'\n"
        "@pytest.fixture(autouse=True)\n"
        "def every_cell(request, per_module, tmp_path):\n"
        "    SEEN.append(request.node.name)\n"
        "def pytest_sessionfinish(session):\n"
        "    print('SEEN', SEEN.count('module'), len(SEEN) - SEEN.count('module'))\n"
    )
    result = matrix.run("--kylecode-record=all", "--snapshot-update", "-s", "-q")
    assert "SEEN 1 6" in result.stdout.str()


def test_requires_skips_cells_naming_the_missing_command(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC + "requires: [no-such-command-xyz]\n")
    result = matrix.run("-rs", "-q")
    result.assert_outcomes(skipped=6)
    assert "requires no-such-command-xyz (not found on PATH)" in result.stdout.str()


def test_exclude_and_not_applicable_faults_shape_the_matrix(matrix: Matrix) -> None:
    text = BASIC.replace("tools: [native]", "tools: [native, text]").replace(
        "fault: [none]", "fault: [none, stall, tools_unsupported]"
    )
    matrix.scenario("basic", text + "exclude: [{provider: 'anthropic/*', tools: text}]\n")
    ids = _ids(matrix.run("--collect-only", "-q").outlines)
    assert not any("anthropic" in i and "-text-" in i for i in ids)
    assert not any("nostream" in i and i.endswith("stall]") for i in ids)
    assert not any("-text-tools_unsupported" in i for i in ids)
    # 3 providers x 2 streaming x 2 tools x 3 faults = 36; -2x3 excluded anthropic text cells (6 ids)
    # n/a: stall without streaming (5 remaining tool combos), tools_unsupported in text mode (4)
    assert len(ids) == 36 - 6 - 5 - 4
    assert re.search(r"kylecode: 21 cells", matrix.run("--collect-only").stdout.str())


def test_collect_only_succeeds_although_no_snapshot_is_used(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    result = matrix.run("--collect-only", "-q", ci=True)
    assert result.ret == 0  # snapshots left unused would fail the session
