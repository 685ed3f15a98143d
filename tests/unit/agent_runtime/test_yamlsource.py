"""``yamlsource.load``: one checked loader, the project's own messages whatever PyYAML reports first.

Every test runs with libyaml's loader (when PyYAML has it) and with PyYAML's pure-Python loader: the
limits are the project's, and both must give the same words and lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_runtime import yamlsource
from agent_runtime.errors import ConfigError
from agent_runtime.yamlsource import MAX_DEPTH, LocatedDocument, YAMLSourceError, format_keypath, load, parse_keypath

ROOT = Path(__file__).resolve().parents[3]
LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])


@pytest.fixture(params=LOADERS, ids=lambda c: c.__name__, autouse=True)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.setattr(yamlsource, "_Loader", request.param)
    return request.param


def _error(text: str, name: str = "f.yaml") -> YAMLSourceError:
    with pytest.raises(YAMLSourceError) as info:
        load(Path(name), text)
    assert isinstance(info.value, ConfigError)
    return info.value


def test_flow_nesting_deeper_than_libyamls_own_limit_gets_the_projects_message() -> None:
    # 1500 levels on one line: libyaml refuses it (at 1000) before emitting a single event.
    error = _error("name: x\nvalue: " + "[" * 1500 + "]" * 1500 + "\n")
    assert str(error) == f"f.yaml:2: the document nests deeper than {MAX_DEPTH} levels here; flatten it"


def test_block_nesting_is_refused_at_the_line_where_the_limit_is_crossed() -> None:
    lines = [f"{'  ' * level}k{level}:" for level in range(150)] + [f"{'  ' * 150}end"]
    error = _error("\n".join(lines) + "\n")
    assert error.where == f"f.yaml:{MAX_DEPTH + 1}" and "flatten it" in error.problem


def test_exactly_the_limit_loads_and_equals_pyyaml() -> None:
    text = "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH
    assert load(Path("f.yaml"), text).data == yaml.safe_load(text)
    _error("[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1))


def test_nesting_through_aliases_counts_as_expanded() -> None:
    # Each anchor is one level deeper than the one it wraps: shallow text, deep data.
    rows = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    error = _error("\n".join(rows) + "\n")
    assert error.where == f"f.yaml:{MAX_DEPTH}" and "through the alias *a" in error.problem


def test_alias_bomb_and_recursive_alias_are_refused_in_the_projects_words() -> None:
    rows = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = _error("\n".join(rows) + "\n")
    assert bomb.where == "f.yaml:5" and "(an alias bomb?)" in bomb.problem  # a4: 111,111 values
    assert "recursive alias" in _error("top:\n  - &a [1, *a]\n").problem
    undefined = _error("a: *nowhere\n")
    assert undefined.where == "f.yaml:1" and "define the anchor first" in undefined.problem


@pytest.mark.parametrize("loader", LOADERS[-1:], indirect=True)  # 150,000 values: pure Python takes 8 s
def test_a_long_recording_without_aliases_is_not_a_bomb() -> None:
    text = "items: [" + ", ".join(["v"] * 150_000) + "]\n"
    assert len(load(Path("f.yaml"), text).data["items"]) == 150_000


def test_duplicate_keys_name_both_lines_and_merge_keys_are_not_keys() -> None:
    error = _error("a:\n  b: 1\n  c: 2\n  b: 3\n")
    assert error.where == "f.yaml:4"
    assert error.problem.startswith("duplicate key 'b' (first given on line 2)")
    doc = load(Path("f.yaml"), "base: &base {x: 1}\none:\n  <<: *base\n  y: 2\ntwo:\n  <<: *base\n")
    assert doc.data["one"] == {"x": 1, "y": 2} and doc.data["two"] == {"x": 1}
    # The same key in two different mappings is fine.
    assert load(Path("f.yaml"), "a: {k: 1}\nb: {k: 2}\n").data == {"a": {"k": 1}, "b": {"k": 2}}


def test_every_key_path_has_its_line() -> None:
    text = "name: x\nmatrix:\n  fault:\n    - none\n    - kind: latency\n      ms: 5\n  provider: [a/b]\n"
    doc = load(Path("s.yaml"), text)
    assert doc.data == yaml.safe_load(text)
    assert doc.lines[("name",)] == 1 and doc.lines[("matrix",)] == 2
    assert doc.lines[("matrix", "fault", 0)] == 4 and doc.lines[("matrix", "fault", 1)] == 5
    assert doc.lines[("matrix", "fault", 1, "ms")] == 6 and doc.lines[("matrix", "provider", 0)] == 7
    assert doc.where(("matrix", "fault", 1, "ms", "deeper")) == "s.yaml:6"  # the deepest known prefix
    assert format_keypath(("matrix", "fault", 1, "ms")) == "matrix.fault[1].ms"
    assert parse_keypath("matrix.fault[1].ms") == ("matrix", "fault", 1, "ms")
    assert LocatedDocument(Path("e.yaml"), None).where(("a",)) == "e.yaml:1"


def test_python_tags_are_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    error = _error(f'a: 1\nb: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert error.where == "f.yaml:2" and "!!python/object/apply:os.system" in error.problem
    assert "never loaded" in error.problem and not marker.exists()
    unknown = _error("a: !custom 3\n")
    assert unknown.where == "f.yaml:1" and "unknown tag !custom" in unknown.problem


def test_standard_tags_load_and_a_value_that_does_not_fit_its_tag_is_named() -> None:
    assert load(Path("f.yaml"), "b: !!binary aGk=\ns: !!str 12\n").data == {"b": b"hi", "s": "12"}
    error = _error("a: 1\nb: !!int twelve\n")
    assert error.where == "f.yaml:2" and "'twelve' cannot be read as !!int" in error.problem


def test_syntax_errors_say_invalid_yaml_with_the_line_and_where_the_construct_began() -> None:
    error = _error("name: x\ntask: [unclosed\nnext: 1\n")
    assert error.where == "f.yaml:3" and error.problem.startswith("invalid YAML: ")
    assert "(in what starts on line 2)" in error.problem
    tab = _error("a:\n\tb: 1\n")
    assert tab.where == "f.yaml:2" and "(a tab: YAML indents with spaces only)" in tab.problem
    control = _error("a: 1\nb: x\x07y\n")
    assert control.where == "f.yaml:2" and "a character YAML does not allow in text" in control.problem
    several = _error("a: 1\n---\nb: 2\n")
    assert several.where == "f.yaml:2" and "a file holds one document" in several.problem


def test_text_that_is_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: 2\nc: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(YAMLSourceError) as info:
        load(path)
    assert info.value.where == f"{path}:3" and "save the file as UTF-8" in info.value.problem
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.yaml")


def test_an_empty_document_is_none() -> None:
    assert load(Path("f.yaml"), "").data is None
    assert load(Path("f.yaml"), "# only a comment\n").data is None


SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(
    (ROOT / "cassettes" / "enumerate_workspace").rglob("*.yaml")
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shipped_files_load_exactly_as_pyyaml_loads_them(path: Path, loader: type) -> None:
    text = path.read_text(encoding="utf-8")
    assert load(path).data == yaml.load(text, Loader=loader)
