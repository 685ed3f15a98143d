"""The tool registry: specs offered to the model, argument validation, execution.

Contract of ``ToolRegistry.execute``: one ``ToolOutcome`` per call, in call order,
whatever happens. A call with a ``parse_error``, an unknown name or arguments that
violate the tool's JSON Schema is answered with a ``malformed_tool_call`` error result
and never executed; a tool that raises is answered with an error result. Nothing
raised by a tool escapes.

Concurrency: consecutive non-blocking calls of one turn run on up to
``max_parallel`` threads (only when there are two or more of them); a blocking call
runs alone, after everything before it and before everything after it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent_runtime.config import ToolsConfig
from agent_runtime.messages import JSONObject, ToolCall, ToolResult, ToolSpec, canonical_json

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["Tool", "ToolContext", "ToolError", "ToolOutcome", "ToolRegistry", "call_signature"]

_POOL_SIZE: Final = 16  # threads shared by all runs of a process for non-blocking tools


class ToolError(Exception):
    """Raised by a tool to answer with an error result; the message is shown to the model as is."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may touch: the (resolved) workspace root and the tools config.

    ``aliases`` are other spellings of the root (as given, before resolving symlinks);
    ``scrub`` replaces all of them by ``.`` so no result carries an absolute workspace path.
    """

    root: Path
    config: ToolsConfig = ToolsConfig()
    aliases: tuple[str, ...] = ()

    @classmethod
    def for_workspace(cls, workspace: Path | str, config: ToolsConfig = ToolsConfig()) -> ToolContext:
        given = str(Path(workspace).absolute())
        root = Path(workspace).resolve()
        # Longest first, so a path that contains another alias is replaced whole.
        aliases = tuple(sorted({given, str(root)}, key=len, reverse=True))
        return cls(root=root, config=config, aliases=aliases)

    def scrub(self, text: str) -> str:
        for alias in self.aliases:
            if alias in text:
                text = text.replace(alias, ".")
        return text


ToolFunction = Callable[[ToolContext, JSONObject], str]


class Tool:
    """A tool: its spec, its function ``fn(ctx, arguments) -> str`` and whether it blocks.

    Non-blocking tools (pure reads) may run concurrently with each other. The JSON Schema
    validator is built on first use and kept with the tool, so the module-level workspace
    tools build theirs once per process.
    """

    __slots__ = ("_validator", "blocking", "fn", "spec")

    def __init__(self, spec: ToolSpec, fn: ToolFunction, *, blocking: bool = True) -> None:
        self.spec = spec
        self.fn = fn
        self.blocking = blocking
        self._validator: Validator | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def validator(self) -> Validator:
        if self._validator is None:
            self._validator = _build_validator(self.spec.parameters)
        return self._validator

    def check(self, arguments: JSONObject) -> str | None:
        """``None`` when ``arguments`` satisfy the schema, else a message naming the violation."""
        from jsonschema.exceptions import best_match

        error = best_match(self.validator.iter_errors(arguments))
        if error is None:
            return None
        return f"invalid arguments for {self.name}: {_violation(error)}"

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, blocking={self.blocking})"


_JSON_TYPES: Final = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_BOUNDS: Final = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _violation(error: Any) -> str:
    """One schema violation in the runtime's own words, for the model to correct its call: which
    argument, what was expected, what it sent. Keywords not worded here keep jsonschema's message."""
    keyword, expected, got = error.validator, error.validator_value, error.instance
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    subject = f"argument {path!r}" if path else "the arguments"
    inside = f" in {path!r}" if path else ""
    if keyword == "required" and isinstance(got, dict):
        missing = [name for name in expected if name not in got]
        return f"missing required argument {missing[0]!r}{inside}" if missing else error.message
    if keyword == "additionalProperties" and isinstance(got, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [name for name in got if name not in allowed]
        return (
            f"unexpected argument {extra[0]!r}{inside} (expected: {', '.join(allowed) or 'none'})"
            if extra
            else error.message
        )
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"{subject} must be {' or '.join(_JSON_TYPES.get(n, n) for n in names)}, got {got!r}"
    if keyword in _BOUNDS:
        return f"{subject} must be {_BOUNDS[keyword]} {expected}, got {got!r}"
    if keyword == "minLength":
        return f"{subject} must have at least {expected} character{'' if expected == 1 else 's'}, got {got!r}"
    if keyword == "enum":
        return f"{subject} must be one of {', '.join(map(repr, expected))}, got {got!r}"
    return f"{error.message} (at {error.json_path})" if error.path else error.message


def _build_validator(schema: JSONObject) -> Validator:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)  # a broken schema is a programming error: fail loudly, once
    return cls(schema)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The result of one call; ``executed`` when the tool ran, ``malformed`` when it was refused."""

    call: ToolCall
    result: ToolResult
    executed: bool
    malformed: bool


class ToolRegistry:
    """An ordered set of tools with unique names. Validators are built at construction."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            tool.validator  # noqa: B018 - build now, not on the first turn
            self._tools[tool.name] = tool
        self._specs = tuple(t.spec for t in self._tools.values())

    @property
    def specs(self) -> list[ToolSpec]:
        """The specs offered to the model, in registration order (a fresh list)."""
        return list(self._specs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def refusal(self, call: ToolCall) -> str | None:
        """Why ``call`` must not run (malformed), or ``None`` when it may."""
        if call.parse_error is not None:
            return f"malformed tool call: {call.parse_error}"
        tool = self._tools.get(call.name)
        if tool is None:
            return f"malformed tool call: unknown tool {call.name!r}; available: {', '.join(self._tools)}"
        problem = tool.check(call.arguments)
        return None if problem is None else f"malformed tool call: {problem}"

    def execute(self, calls: list[ToolCall], ctx: ToolContext) -> list[ToolOutcome]:
        """Run ``calls`` (ids already assigned) and return their outcomes in call order."""
        outcomes: list[ToolOutcome | None] = [None] * len(calls)
        group: list[int] = []  # pending consecutive non-blocking calls
        for i, call in enumerate(calls):
            reason = self.refusal(call)
            if reason is not None:
                outcomes[i] = ToolOutcome(call, ToolResult(call.id, call.name, reason, is_error=True), False, True)
                continue
            if not self._tools[call.name].blocking:
                group.append(i)
                continue
            self._run_group(group, calls, ctx, outcomes)
            group = []
            outcomes[i] = self._run_one(calls[i], ctx)
        self._run_group(group, calls, ctx, outcomes)
        return [o for o in outcomes if o is not None]

    def _run_group(
        self, group: list[int], calls: list[ToolCall], ctx: ToolContext, outcomes: list[ToolOutcome | None]
    ) -> None:
        workers = min(len(group), ctx.config.max_parallel)
        if workers < 2:  # one call, or parallelism disabled: no thread
            for i in group:
                outcomes[i] = self._run_one(calls[i], ctx)
            return
        # A sliding window of ``workers`` calls on the process-wide pool: starting threads for
        # every turn cost more than the reads they run.
        pool = _pool()
        todo = iter(group)
        pending: dict[Future[ToolOutcome], int] = {}
        for i in itertools.islice(todo, workers):
            pending[pool.submit(self._run_one, calls[i], ctx)] = i
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[pending.pop(future)] = future.result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending[pool.submit(self._run_one, calls[nxt], ctx)] = nxt

    def _run_one(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        tool = self._tools[call.name]
        try:
            content, is_error = tool.fn(ctx, call.arguments), False
        except ToolError as exc:
            content, is_error = ctx.scrub(str(exc)), True
        except Exception as exc:  # a tool bug must become a result, never end the run
            content, is_error = ctx.scrub(f"{call.name} failed: {type(exc).__name__}: {exc}"), True
        return ToolOutcome(call, ToolResult(call.id, call.name, content, is_error=is_error), True, False)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads for non-blocking tools, shared by every run of the process and started lazily.
    Its size caps concurrency across concurrent runs; ``max_parallel`` caps each batch."""
    return ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix="kylecode-tool")


def call_signature(call: ToolCall) -> tuple[str, str]:
    """What makes two calls "the same" for the loop guards: the name and the canonical
    arguments, or the raw arguments as written when they could not be parsed."""
    if call.parse_error is not None:
        return call.name, call.raw_arguments
    return call.name, canonical_json(call.arguments)
