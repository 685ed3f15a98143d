"""Scenario validation: a located YAML document -> ``Scenario``, or a ConfigError naming file:line and key.

Every message says what was expected and, for a misspelt name, the nearest
valid one. The same checks run under pytest and in ``kylecode scenarios validate``.
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from agent_runtime.config import parse_agent_config
from agent_runtime.errors import CATEGORIES, ConfigError, did_you_mean
from agent_runtime.loop.agent import OUTCOMES
from agent_runtime.loop.completion import COMPLETION_REASONS
from agent_runtime.messages import TOOL_MODES, JSONObject
from agent_runtime.paths import MAX_COMPONENT_BYTES, name_problem
from agent_runtime.providers import parse_route
from agent_runtime.yamlsource import KeyPath, LocatedDocument, format_keypath, parse_keypath
from pytest_kylecode.cassettes.matching import MatchRules, parse_match_rules
from pytest_kylecode.faults.catalog import FAULT_KEYS, FAULT_KINDS, FaultSpec
from pytest_kylecode.process import placeholders
from pytest_kylecode.process.spec import DEFAULT_TIMEOUT_S, PROGRAM_KEYS, ProgramSpec
from pytest_kylecode.scenarios.scenario import Axes, Matrix, Override, Scenario, Selector, matches, stream_word

if TYPE_CHECKING:
    from pytest_kylecode.emulator.script import Turn

_T = TypeVar("_T")
_Choice = TypeVar("_Choice", bound=str)

TOP_KEYS: Final = (
    "name",
    "description",
    "task",
    "workspace",
    "agent",
    "requires",
    "script",
    "matrix",
    "exclude",
    "expect",
    "overrides",
    "snapshot",
    "match",
)
MATRIX_AXES: Final = ("provider", "streaming", "tools", "fault")
EXPECT_KEYS: Final = (
    "outcome",
    "completion_reason",
    "error_category",
    "steps",
    "retries",
    "fallbacks",
    "final_route",
    "circuit_opened",
    "tool_calls_paired",
    "tool_errors",
    "tool_sequence",
    "files",
    "metrics",
)
COUNT_KEYS: Final = ("steps", "retries", "fallbacks", "tool_errors")
COMPARISON: Final = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
NAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Checker:
    """Carries the document so every error can name file:line for its key path."""

    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc

    def error(self, keypath: KeyPath, message: str) -> ConfigError:
        return ConfigError(message, where=self.doc.where(keypath), key=format_keypath(keypath) or None)

    def expect_type(self, value: object, kind: type[_T], keypath: KeyPath, what: str) -> _T:
        """``value`` if it is a ``kind`` (a boolean is no number), else the error saying what was expected."""
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(keypath, f"expected {what}, got {_show(value)}")
        return value

    def choice(self, value: object, choices: Sequence[_Choice], keypath: KeyPath, what: str) -> _Choice:
        """The one of ``choices`` that ``value`` is, else the error listing them (with a did-you-mean)."""
        for option in choices:
            if value == option:
                return option
        raise self.error(
            keypath,
            f"unknown {what} {_show(value)}{did_you_mean(value, choices)}; expected one of: {', '.join(choices)}",
        )

    def keys(self, data: Mapping[str | int, object], allowed: tuple[str, ...], keypath: KeyPath) -> None:
        for key in data:
            if key not in allowed:
                raise self.error(
                    (*keypath, key),
                    f"unknown key {_show(key)}{did_you_mean(key, allowed)}; allowed keys: {', '.join(allowed)}",
                )

    def reraise(self, exc: ConfigError, prefix: KeyPath = ()) -> ConfigError:
        """Give a ConfigError raised with a dotted key (config/script parsers) its file:line."""
        keypath = (*prefix, *parse_keypath(exc.key)) if exc.key else prefix
        message = str(exc)
        if exc.key and message.startswith(f"{exc.key}: "):
            message = message[len(exc.key) + 2 :]
        return self.error(keypath, message)


def _show(value: object) -> str:
    if isinstance(value, str):
        # A whole file that is one long line must not become a message of megabytes.
        return repr(value) if len(value) <= 120 else f"{value[:80]!r}... ({len(value)} characters)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _listify(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def parse_scenario(doc: LocatedDocument) -> Scenario:
    c = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict):
        raise c.error((), f"a scenario file is a mapping with keys {', '.join(TOP_KEYS)}; got {_show(data)}")
    c.keys(data, TOP_KEYS, ())
    for required in ("task", "script", "matrix"):
        if required not in data:
            raise c.error((), f"missing required key {required!r}")

    name = c.expect_type(data.get("name", doc.path.stem), str, ("name",), "a string")
    _check_scenario_name(c, name)
    task = c.expect_type(data["task"], str, ("task",), "the task as a string")
    description = c.expect_type(data.get("description", ""), str, ("description",), "a string")

    workspace = _parse_workspace(c, data.get("workspace") or {})

    agent_data = c.expect_type(data.get("agent") or {}, dict, ("agent",), "a mapping of agent settings")
    factory = agent_data.get("factory")
    runtime_keys = {k: v for k, v in agent_data.items() if k != "factory" and k not in PROGRAM_KEYS}
    if factory is not None and (not isinstance(factory, str) or ":" not in factory):
        raise c.error(("agent", "factory"), f"expected 'package.module:function', got {_show(factory)}")
    program = _parse_program(c, agent_data)
    try:
        agent_config = parse_agent_config(runtime_keys, key="agent")
    except ConfigError as exc:
        raise c.reraise(exc) from None
    for axis_key in ("route", "streaming", "tool_mode"):
        if axis_key in runtime_keys:
            raise c.error(("agent", axis_key), f"{axis_key!r} is set per cell by the matrix; remove it from agent:")

    requires = tuple(
        c.expect_type(command, str, ("requires", i), "a command name")
        for i, command in enumerate(_listify(data.get("requires", [])))
    )

    script_data = data["script"]
    script = _parse_script(c, script_data)
    matrix = _parse_matrix(c, data["matrix"])
    _check_cell_file_names(c, matrix)
    exclude = tuple(_parse_when(c, entry, ("exclude", i)) for i, entry in enumerate(_listify(data.get("exclude", []))))
    expect = parse_expect(c, data.get("expect") or {}, ("expect",))
    expect_where = expect_sources(c, expect, ("expect",))
    overrides = tuple(
        _parse_override(c, o, ("overrides", i)) for i, o in enumerate(_listify(data.get("overrides", [])))
    )
    _check_selectors_select(c, matrix, exclude, overrides)
    if factory is None:  # a user's own agent has its own tools, which a scenario file cannot list
        _check_script_tools(c, script)
    snapshot = c.expect_type(data.get("snapshot", True), bool, ("snapshot",), "true or false")
    match = (
        parse_match_rules(data["match"], lambda kp: doc.where(("match", *kp)))
        if data.get("match") is not None
        else MatchRules()
    )
    return Scenario(
        name=name,
        path=doc.path,
        description=description,
        task=task,
        workspace=workspace,
        agent=dict(agent_data),
        agent_config=agent_config,
        requires=requires,
        script=script,
        script_data=script_data,
        matrix=matrix,
        exclude=exclude,
        expect=expect,
        overrides=overrides,
        snapshot=snapshot,
        agent_factory=factory,
        agent_program=program,
        expect_where=expect_where,
        match=match,
    )


def _parse_program(c: _Checker, agent: Mapping[str, object]) -> ProgramSpec | None:
    """``agent.command`` and the keys that go with it (``process.spec``), or ``None`` without one."""
    kp: KeyPath = ("agent",)
    if "command" not in agent:
        for key in PROGRAM_KEYS:
            if key in agent:
                raise c.error((*kp, key), f"{key!r} applies to a program: set agent.command too, or remove it")
        return None
    if "factory" in agent:
        raise c.error((*kp, "command"), "agent.command and agent.factory exclude each other: keep one")
    argv = c.expect_type(agent["command"], list, (*kp, "command"), "the program's argv as a list of strings")
    if not argv:
        raise c.error((*kp, "command"), "the command is empty: give at least the program to run")
    for i, arg in enumerate(argv):
        _template(c, c.expect_type(arg, str, (*kp, "command", i), "a string"), (*kp, "command", i))
    env = c.expect_type(agent.get("env") or {}, dict, (*kp, "env"), "a mapping of variable -> value")
    for name, value in env.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise c.error((*kp, "env"), f"expected an environment variable name, got {_show(name)}")
        _template(c, c.expect_type(value, str, (*kp, "env", name), "the value as a string"), (*kp, "env", name))
    cwd = c.expect_type(agent.get("cwd", "."), str, (*kp, "cwd"), "a directory relative to the workspace")
    problem = None if cwd == "." else _workspace_path_problem(cwd.rstrip("/"))
    if problem:
        raise c.error((*kp, "cwd"), f"cwd {_show(cwd)} is a directory of the workspace: {problem}")
    limits: dict[str, float | None] = {"timeout_s": DEFAULT_TIMEOUT_S, "max_retry_after_s": None}
    for key in limits:
        if key in agent:
            value = agent[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise c.error((*kp, key), f"expected seconds as a number, got {_show(value)}")
            if value < 0 or (key == "timeout_s" and value == 0):
                raise c.error((*kp, key), f"expected a number of seconds {'> 0' if key == 'timeout_s' else '>= 0'}")
            limits[key] = float(value)
    timeout_s = limits["timeout_s"]
    assert timeout_s is not None
    return ProgramSpec(tuple(argv), dict(env), cwd, timeout_s, limits["max_retry_after_s"])


def _template(c: _Checker, text: str, keypath: KeyPath) -> None:
    why = placeholders.problem(text)
    if why:
        raise c.error(keypath, why)


def _parse_script(c: _Checker, data: object) -> tuple[Turn, ...]:
    from pytest_kylecode.emulator.script import parse_script

    try:
        return tuple(parse_script(data, key="script"))
    except ConfigError as exc:
        raise c.reraise(exc) from None


def _parse_matrix(c: _Checker, written: object) -> Matrix:
    kp: KeyPath = ("matrix",)
    data = c.expect_type(written, dict, kp, "a mapping with provider, streaming, tools and fault lists")
    c.keys(data, MATRIX_AXES, kp)
    if "provider" not in data:
        raise c.error(kp, "missing 'provider': list the routes (provider/model) this scenario runs on")
    listed = _listify(data["provider"])
    if not listed:
        raise c.error((*kp, "provider"), "the matrix is empty: list at least one route 'provider/model'")
    providers = tuple(_check_route(c, route, (*kp, "provider", i)) for i, route in enumerate(listed))
    streaming = tuple(
        c.expect_type(value, bool, (*kp, "streaming", i), "true or false")
        for i, value in enumerate(_listify(data.get("streaming", [True])))
    )
    tools = tuple(
        c.choice(value, TOOL_MODES, (*kp, "tools", i), "tool mode")
        for i, value in enumerate(_listify(data.get("tools", ["native"])))
    )
    faults = tuple(parse_fault(c, f, (*kp, "fault", i)) for i, f in enumerate(_listify(data.get("fault", ["none"]))))
    axes: tuple[tuple[str, Sequence[object]], ...] = (
        ("provider", providers),
        ("streaming", streaming),
        ("tools", tools),
        ("fault", [f.id for f in faults]),
    )
    for axis, values in axes:
        if not values:
            raise c.error((*kp, axis), f"the matrix is empty: 'matrix.{axis}' lists no value")
        seen: set[object] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise c.error((*kp, axis, i), f"{_show(value)} is listed twice")
            seen.add(value)
    return Matrix(providers, streaming, tools, faults)


def _check_route(c: _Checker, value: object, keypath: KeyPath) -> str:
    route = c.expect_type(value, str, keypath, "a route 'provider/model'")
    try:
        parse_route(route)
    except ConfigError as exc:
        raise c.error(keypath, str(exc)) from None
    _check_route_names(c, route, keypath)
    return route


def parse_fault(c: _Checker, written: object, keypath: KeyPath) -> FaultSpec:
    if isinstance(written, str):
        return FaultSpec(kind=c.choice(written, FAULT_KINDS, keypath, "fault"))
    data = c.expect_type(written, dict, keypath, "a fault name or a mapping {kind, at, times, route}")
    c.keys(data, FAULT_KEYS, keypath)
    if "kind" not in data:
        raise c.error(keypath, f"a fault mapping needs 'kind' (one of: {', '.join(FAULT_KINDS)})")
    kind = c.choice(data["kind"], FAULT_KINDS, (*keypath, "kind"), "fault")
    at = c.expect_type(data.get("at", 1), int, (*keypath, "at"), "a call number >= 1")
    times = c.expect_type(data.get("times", 1), int, (*keypath, "times"), "a count >= 1")
    for key, value in (("at", at), ("times", times)):
        if value < 1:
            raise c.error((*keypath, key), f"expected a number >= 1, got {value}")
    route = data.get("route", "primary")
    if route not in ("primary", "any"):
        route = _check_route(c, route, (*keypath, "route"))
    ms = data.get("ms")
    if ms is not None:
        if kind != "latency":
            raise c.error((*keypath, "ms"), "'ms' only applies to the latency fault")
        ms = c.expect_type(ms, int, (*keypath, "ms"), "milliseconds as an integer")
    return FaultSpec(kind=kind, at=at, times=times, route=route, ms=ms)


def _parse_when(c: _Checker, written: object, keypath: KeyPath) -> Selector:
    data = c.expect_type(
        written, dict, keypath, "a mapping of matrix axes (provider, streaming, tools, fault) to values"
    )
    c.keys(data, MATRIX_AXES, keypath)
    if not data:
        raise c.error(keypath, "an empty selector would match every cell; name at least one axis")
    when: Selector = {}
    for axis, value in data.items():
        values: list[str | bool] = []
        for i, item in enumerate(_listify(value)):
            kp = (*keypath, axis, i) if isinstance(value, list) else (*keypath, axis)
            if axis == "streaming":
                values.append(c.expect_type(item, bool, kp, "true or false"))
            elif axis == "tools":
                values.append(c.choice(item, TOOL_MODES, kp, "tool mode"))
            elif axis == "fault":
                fault = c.expect_type(item, str, kp, "a fault kind or fault id")
                c.choice(fault.split("-", 1)[0], FAULT_KINDS, kp, "fault")
                values.append(fault)
            else:
                values.append(c.expect_type(item, str, kp, "a route or a pattern such as 'anthropic/*'"))
        when[axis] = tuple(values)
    return when


def _parse_override(c: _Checker, written: object, keypath: KeyPath) -> Override:
    data = c.expect_type(written, dict, keypath, "a mapping {when, expect, skip, xfail}")
    c.keys(data, ("when", "expect", "skip", "xfail"), keypath)
    if "when" not in data:
        raise c.error(keypath, "an override needs 'when:' to select cells")
    when = _parse_when(c, data["when"], (*keypath, "when"))
    expect = parse_expect(c, data.get("expect") or {}, (*keypath, "expect"))
    skip = data.get("skip")
    xfail = data.get("xfail")
    for key, value in (("skip", skip), ("xfail", xfail)):
        if value is not None:
            c.expect_type(value, str, (*keypath, key), "the reason as a string")
    if not (expect or skip or xfail):
        raise c.error(keypath, "an override needs 'expect', 'skip' or 'xfail'")
    return Override(when, expect, skip, xfail, expect_where=expect_sources(c, expect, (*keypath, "expect")))


def parse_expect(c: _Checker, written: object, keypath: KeyPath) -> JSONObject:
    data = c.expect_type(written, dict, keypath, "a mapping of expectations")
    c.keys(data, EXPECT_KEYS, keypath)
    for key, value in data.items():
        kp = (*keypath, key)
        if key == "outcome":
            c.choice(value, OUTCOMES, kp, "outcome")
        elif key == "completion_reason":
            if value is not None:
                c.choice(value, COMPLETION_REASONS, kp, "completion reason")
        elif key == "error_category":
            if value is not None:
                c.choice(value, CATEGORIES, kp, "error category")
        elif key in COUNT_KEYS:
            check_number_or_comparison(c, value, kp)
        elif key == "final_route":
            if value is not None:
                _check_route(c, value, kp)
        elif key in ("circuit_opened", "tool_calls_paired"):
            c.expect_type(value, bool, kp, "true or false")
        elif key == "tool_sequence":
            c.expect_type(value, list, kp, "a list of tool names")
            for i, item in enumerate(value):
                c.expect_type(item, str, (*kp, i), "a tool name")
        elif key == "files":
            c.expect_type(value, dict, kp, "a mapping of workspace path -> exact content (null: must not exist)")
            for rel, content in value.items():
                if content is not None:
                    c.expect_type(content, str, (*kp, rel), "the file content as a string, or null")
        elif key == "metrics":
            c.expect_type(value, dict, kp, "a mapping of metrics path -> value, e.g. summary.retries: 2")
            for path, expected in value.items():
                c.expect_type(path, str, kp, "metrics paths as strings")
                _check_metric_path(c, path, (*kp, path))
                if isinstance(expected, str) and expected.strip()[:1] in "<>=!":
                    check_number_or_comparison(c, expected, (*kp, path))
    return dict(data)


def expect_sources(c: _Checker, expect: JSONObject, keypath: KeyPath) -> dict[str, str]:
    """``file:line`` of every expected value, keyed as a mismatch names it (``outcome``,
    ``files[notes.txt]``, ``metrics.summary.retries``): a failing expectation points at the
    line that set it."""
    where: dict[str, str] = {}
    for key, value in expect.items():
        if key in ("files", "metrics"):
            for sub in value:
                label = f"files[{sub}]" if key == "files" else f"metrics.{sub}"
                where[label] = c.doc.where((*keypath, key, sub))
        else:
            where[key] = c.doc.where((*keypath, key))
    return where


def check_number_or_comparison(c: _Checker, value: object, keypath: KeyPath) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise c.error(keypath, f'expected a number or a comparison such as ">=1", got {_show(value)}')
    if isinstance(value, str) and not COMPARISON.match(value):
        raise c.error(keypath, f'expected a number or a comparison such as ">=1" or "<=6", got {value!r}')


# -- names that become paths -----------------------------------------------------------------------
# A scenario name, the segments of a route and the cell ids built from them name cassette and
# snapshot directories and files; workspace keys name files. Each is refused here, at its line,
# when it could not be one file name or would lead out of its tree (``agent_runtime.paths``; the
# writers check the paths they build once more).

# Bytes a workspace path may take: with the temporary directory in front it stays far below PATH_MAX.
MAX_WORKSPACE_PATH_BYTES: Final = 1024


def _check_scenario_name(c: _Checker, name: str) -> None:
    if not NAME.match(name):
        raise c.error(("name",), f"a scenario name may use letters, digits, '_', '-' and '.', got {_show(name)}")
    problem = name_problem(name)
    if problem:
        raise c.error(("name",), f"the scenario name {_show(name)} names its cassette directory, but {problem}")


def _check_route_names(c: _Checker, route: str, keypath: KeyPath) -> None:
    """Each ``/``-separated segment of a route is a directory (the last one the start of a file
    name) under the cassette and snapshot trees: ``openrouter/z-ai/glm-4.6`` is three of them."""
    for segment in route.split("/"):
        problem = name_problem(segment)
        if problem:
            raise c.error(
                keypath,
                f"route {_show(route)}: the segment {_show(segment)} becomes a directory of the cassette "
                f"and snapshot trees, but {problem}",
            )


def _check_cell_file_names(c: _Checker, matrix: Matrix) -> None:
    """The longest cassette and snapshot file name of each route fits a file system."""
    suffixes = [
        f"-{stream_word(streaming)}-{tools}-{fault.id}.json"
        for streaming in matrix.streaming
        for tools in matrix.tools
        for fault in matrix.faults
    ]
    longest = max(suffixes, key=lambda s: len(s.encode()))
    for i, route in enumerate(matrix.providers):
        name = route.rsplit("/", 1)[1] + longest
        size = len(name.encode())
        if size > MAX_COMPONENT_BYTES:
            raise c.error(
                ("matrix", "provider", i),
                f"route {_show(route)} gives snapshot files of {size} bytes ({_show(name)}); a file name has "
                f"at most {MAX_COMPONENT_BYTES}: shorten the model name or the fault",
            )
        problem = name_problem(longest[1:].replace("/", "_"))
        if problem:
            raise c.error(("matrix", "fault"), f"a cassette file name {_show(longest[1:])} is refused: {problem}")


def _parse_workspace(c: _Checker, written: object) -> dict[str, str]:
    """``workspace:``, relative path -> text, each path one file the cell can be given: relative,
    in plain form (no empty, ``.`` or ``..`` segment), each segment a file name, no file that is
    also the directory of another."""
    files = c.expect_type(written, dict, ("workspace",), "a mapping of relative path -> file content")
    workspace: dict[str, str] = {}
    for key, value in files.items():
        rel = c.expect_type(key, str, ("workspace",), "file paths as strings")
        kp: KeyPath = ("workspace", rel)
        content = c.expect_type(value, str, kp, "the file content as a string")
        problem = _workspace_path_problem(rel)
        if problem:
            raise c.error(kp, f"workspace path {_show(rel)}: {problem}")
        workspace[rel] = content
    directories: dict[str, str] = {}
    for rel in workspace:
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            directories.setdefault("/".join(parts[:depth]), rel)
    for rel in workspace:
        if rel in directories:
            raise c.error(
                ("workspace", rel),
                f"workspace path {_show(rel)} is a file, but {_show(directories[rel])} needs it to be a directory",
            )
    return workspace


def _workspace_path_problem(rel: str) -> str | None:
    if rel.startswith("/"):
        return "it is absolute; give a path relative to the workspace"
    size = len(rel.encode("utf-8", errors="surrogatepass"))
    if size > MAX_WORKSPACE_PATH_BYTES:
        return f"it is {size} bytes long; a workspace path has at most {MAX_WORKSPACE_PATH_BYTES}"
    for segment in rel.split("/"):
        if segment == "..":
            return "'..' would leave the workspace; paths must stay inside it"
        if segment in ("", "."):
            return "write it in plain form, without empty or '.' segments (as in 'src/app.py')"
        problem = name_problem(segment)
        if problem:
            return f"the segment {_show(segment)} cannot be a file name: {problem}"
    return None


# -- mistakes that would silently weaken a scenario ------------------------------------------------
# Each of these validates as YAML and as a shape, yet makes the scenario check less than it says:
# a selector that selects nothing leaves its cells unexcluded or its expectations unapplied, a
# metrics path that names nothing fails only when the cell runs, and a scripted call of a tool
# the agent lacks tests the unknown-tool path instead of the task.


def _axis_values_selected(axis: str, value: str | bool, matrix: Matrix) -> bool:
    """Whether one value a selector lists for ``axis`` selects any value of the matrix's axis."""
    if axis == "provider":
        return any(fnmatch.fnmatchcase(route, str(value)) for route in matrix.providers)
    if axis == "fault":
        return any(value in (fault.kind, fault.id) for fault in matrix.faults)
    if axis == "streaming":
        return value in matrix.streaming
    return value in matrix.tools


def _matrix_words(axis: str, matrix: Matrix) -> list[str]:
    if axis == "provider":
        return list(matrix.providers)
    if axis == "fault":
        return [word for fault in matrix.faults for word in (fault.kind, fault.id)]
    if axis == "streaming":
        return [str(v).lower() for v in matrix.streaming]
    return list(matrix.tools)


def _check_selector(c: _Checker, when: Selector, keypath: KeyPath, matrix: Matrix, what: str) -> None:
    """Every value a selector lists selects something on its axis of the matrix (the matrix being
    a full product, the selector then selects some combination); else the error at its line."""
    for axis, values in when.items():
        for i, value in enumerate(values):
            if not _axis_values_selected(axis, value, matrix):
                choices = _matrix_words(axis, matrix)
                listed = (*keypath, axis, i) in c.doc.lines  # written as a list, not one value
                raise c.error(
                    (*keypath, axis, i) if listed else (*keypath, axis),
                    f"{what}: {axis} {_show(value)} matches no {axis} of the matrix"
                    f"{did_you_mean(value, choices)}; the matrix has: {', '.join(dict.fromkeys(choices))}",
                )


def _check_selectors_select(
    c: _Checker, matrix: Matrix, exclude: Sequence[Selector], overrides: Sequence[Override]
) -> None:
    """An ``exclude`` selects among the combinations of the matrix that apply to their fault (the
    others never run anyway); an override's ``when:`` among the cells that run (not excluded)."""
    product = itertools.product(matrix.providers, matrix.streaming, matrix.tools, matrix.faults)
    combos = list(itertools.starmap(Axes, product))
    applicable = [a for a in combos if a.fault.applies_to(streaming=a.streaming, tool_mode=a.tool_mode)]
    for i, when in enumerate(exclude):
        _check_selector(c, when, ("exclude", i), matrix, "this exclude")
        if not any(matches(when, axes) for axes in applicable):
            raise c.error(
                ("exclude", i),
                "this exclude matches no cell that runs: the combinations it selects are not applicable to "
                "their fault anyway, so it excludes nothing",
            )
    running = [axes for axes in applicable if not any(matches(entry, axes) for entry in exclude)]
    for i, override in enumerate(overrides):
        keypath: KeyPath = ("overrides", i, "when")
        _check_selector(c, override.when, keypath, matrix, "this override")
        if not any(matches(override.when, axes) for axes in running):
            raise c.error(
                keypath,
                "this override matches no cell that runs: the cells it selects are excluded or not applicable "
                "to their fault, so its expectations would never be checked",
            )


@functools.cache
def _metrics_schema() -> JSONObject:
    schema: JSONObject = json.loads((Path(__file__).parent.parent / "schema" / "metrics.schema.json").read_text())
    return schema


def _check_metric_path(c: _Checker, path: str, keypath: KeyPath) -> None:
    """``path`` (``summary.retries``, ``routes[openai/gpt-4o-mini].errors.timeout``) names a value
    the metrics snapshot can hold, by its JSON Schema; else the error with the nearest name."""
    from pytest_kylecode.expect import metric_path_parts

    node = _metrics_schema()
    walked: list[str] = []
    for part in metric_path_parts(path) or [path]:
        kind = node.get("type")
        where = f"metrics path {_show(path)}: " + (f"{''.join(walked)} " if walked else "")
        if kind == "object":
            properties: JSONObject = node.get("properties", {})
            extra = node.get("additionalProperties")
            if part in properties:
                node = properties[part]
            elif isinstance(extra, dict):
                names = node.get("propertyNames", {}).get("enum")
                if names is not None and part not in names:
                    raise c.error(
                        keypath,
                        f"{where}has no key {_show(part)}{did_you_mean(part, names)}; its keys are: {', '.join(names)}",
                    )
                node = extra
            else:
                raise c.error(
                    keypath,
                    f"{where}has no key {_show(part)}{did_you_mean(part, properties)}; "
                    f"its keys are: {', '.join(properties)}",
                )
        elif kind == "array":
            if not part.isdigit():
                raise c.error(keypath, f"{where}is a list: give an index such as {''.join(walked)}[0]")
            node = node["items"]
        else:
            raise c.error(keypath, f"{where}is a single value; it has no {_show(part)}")
        plain = not part.isdigit() and not any(mark in part for mark in "./")
        walked.append((f".{part}" if walked else part) if plain else f"[{part}]")


def _check_script_tools(c: _Checker, script: Sequence[Turn]) -> None:
    """Every tool a scripted turn calls is one of the runtime's tools."""
    from agent_runtime.loop.tools import WORKSPACE_TOOLS

    names = [tool.name for tool in WORKSPACE_TOOLS]
    for i, turn in enumerate(script):
        for j, call in enumerate(turn.tool_calls):
            if call.name not in names:
                raise c.error(
                    ("script", i, "tool_calls", j, "name"),
                    f"the agent has no tool {_show(call.name)}{did_you_mean(call.name, names)}; "
                    f"its tools are: {', '.join(names)}",
                )
