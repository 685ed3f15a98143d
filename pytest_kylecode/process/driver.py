"""Any program as a cell's agent: ``ProcessDriver`` (``agent: {command: [...]}``).

``execute_cell`` builds the cell's stack as for every agent; this driver puts the byo metering on
top, serves each provider of the cell's routes on a loopback server in front of it
(``process.serve``), and runs the program with the cell's facts in its environment:

- ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` (the SDKs' own variables; the first route of that
  protocol family, primary first) and ``KYLECODE_BASE_URL_<PROVIDER>`` for every provider served;
- each provider's key variable (``OPENAI_API_KEY`` ...): the placeholder ``kylecode-replay``, or
  the real key only when the cell records from the live providers;
- ``KYLECODE_ROUTE``, ``KYLECODE_MODEL``, ``KYLECODE_PROTOCOL``, ``KYLECODE_STREAMING``
  (``true``/``false``), ``KYLECODE_TOOL_MODE``, ``KYLECODE_FAILOVER`` (comma-separated routes),
  ``KYLECODE_MAX_STEPS``, ``KYLECODE_TASK_FILE``, ``KYLECODE_WORKSPACE``, ``KYLECODE_REPORT_FILE``
  and the program's own timeouts ``KYLECODE_CONNECT_TIMEOUT_S``, ``KYLECODE_FIRST_BYTE_TIMEOUT_S``,
  ``KYLECODE_IDLE_TIMEOUT_S``;
- ``PATH``, ``HOME`` and ``LANG`` from the harness's environment, then ``agent.env``; nothing else.

The program runs in the workspace (or ``agent.cwd`` inside it), in a session and process group of
its own, with no standard input; its whole group is killed at ``agent.timeout_s``, when it exits
(what it left running) and when the cell is interrupted. Its stdout and stderr go to files: their
tails are shown when the cell fails, and they are kept in the run directory (``program/``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final

from agent_runtime.clock import Clock
from agent_runtime.config import AgentConfig
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.redact import redact_text
from agent_runtime.observe.runlog import RunLog
from agent_runtime.paths import inside
from agent_runtime.providers import Provider
from agent_runtime.resilience.failover import resolve_routes
from agent_runtime.runner import AgentRun
from pytest_kylecode.byo.context import REPLAY_API_KEY
from pytest_kylecode.byo.driver import agent_run
from pytest_kylecode.byo.metering import MeteringTransport, TrafficMeter
from pytest_kylecode.cell.stack import CellStack
from pytest_kylecode.failures import CellFailure, LiveRefusal
from pytest_kylecode.process import placeholders
from pytest_kylecode.process.clock import WallWaits
from pytest_kylecode.process.report import read_report, report_from_traffic
from pytest_kylecode.process.serve import LoopbackProviders
from pytest_kylecode.process.spec import ProgramSpec

__all__ = ["ProcessDriver", "ProgramOutput", "ProgramRun"]

PASSED_THROUGH: Final = ("PATH", "HOME", "LANG")
TAIL_LINES: Final = 20
KEPT_BYTES: Final = 256 * 1024  # of each stream, in the run directory
_SDK_VARIABLES: Final = {  # protocol -> the SDK's base-URL and key variables
    "openai_chat": ("OPENAI_BASE_URL", "OPENAI_API_KEY"),
    "openai_responses": ("OPENAI_BASE_URL", "OPENAI_API_KEY"),
    "anthropic_messages": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"),
}


@dataclass(frozen=True, slots=True)
class ProgramOutput:
    """How the program ran: its argv, exit code (``None``: killed at ``timeout_s``), output, wall time."""

    argv: tuple[str, ...]
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    server_log: tuple[str, ...] = ()

    def tail(self) -> list[str]:
        """The last lines of stderr and stdout, for a failure report."""
        status = "killed at agent.timeout_s" if self.exit_code is None else f"exit code {self.exit_code}"
        lines = [f"{_command_line(self.argv)}: {status} after {self.wall_s:.1f} s"]
        for name, data in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = data.decode("utf-8", "replace").rstrip().splitlines()[-TAIL_LINES:]
            lines.append(f"{name} (last {len(text)} lines):" if text else f"{name}: (empty)")
            lines.extend(f"  {line}" for line in text)
        return lines


@dataclass(slots=True)
class ProgramRun(AgentRun):
    """The ``AgentRun`` of a program, with how the program itself ran (shown when the cell fails)."""

    program: ProgramOutput | None = None


class ProgramRunLog(RunLog):
    """The run log of a program cell: the run directory also keeps ``program/`` (its command and
    exit, stdout, stderr and the loopback servers' log), redacted like the rest."""

    def __init__(self, *, clock_now: float = 0.0) -> None:
        super().__init__(clock_now=clock_now)
        self.program: ProgramOutput | None = None

    def write(self, root: str | Path, scenario: str, cell: str, env: Mapping[str, str] | None = None) -> Path:
        run_dir = super().write(root, scenario, cell, env)
        program = self.program
        if program is not None:
            folder = run_dir / "program"
            folder.mkdir()
            for name, data in (("stdout.txt", program.stdout), ("stderr.txt", program.stderr)):
                text = data[-KEPT_BYTES:].decode("utf-8", "replace")
                (folder / name).write_text(redact_text(text, env), encoding="utf-8")
            (folder / "server.log").write_text(redact_text("".join(f"{line}\n" for line in program.server_log), env))
            (folder / "command.txt").write_text(redact_text("\n".join(program.tail()[:1]) + "\n", env))
        return run_dir


@dataclass
class ProcessDriver:
    """A program on the cell's stack. A replay miss reaches it as a dropped connection (the cell
    then fails with the miss), so it is not aborted at the miss: ``aborts_on_miss`` is False."""

    spec: ProgramSpec
    scenario_dir: Path
    aborts_on_miss: bool = False
    # Set when the program is done: fault waits still running in a server thread end at once.
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    _waits: WallWaits | None = field(default=None, init=False, repr=False)

    def fault_clock(self, clock: Clock) -> Clock:
        """Fault delays are waited out for real, by the loopback side: the program reads a real socket."""
        self._waits = WallWaits(clock, self.done)
        return self._waits

    def run(self, stack: CellStack, workspace: Path) -> AgentRun:
        cell, config = stack.cell, stack.config
        collector = ProviderMetricsCollector()
        runlog = ProgramRunLog(clock_now=stack.clock.now())
        meter = TrafficMeter(stack.clock, collector, runlog=runlog, tool_mode=cell.tool_mode)
        providers = _providers(cell.provider, config)
        upstream = [(p, p.resolved_base_url(stack.env) if stack.live else p.base_url.rstrip("/")) for p in providers]
        cwd = inside(workspace, self.spec.cwd)
        if not cwd.is_dir():
            raise CellFailure(f"agent.cwd {self.spec.cwd!r} is no directory of the workspace")
        output: ProgramOutput | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="kylecode-program-") as private:
                files = Path(private)
                task_file, report_file = files / "task.md", files / "report.json"
                task_file.write_text(cell.scenario.task, encoding="utf-8")
                with LoopbackProviders(
                    MeteringTransport(stack.transport, meter),
                    upstream,
                    timeouts=config.timeouts,
                    max_retry_after_s=self.spec.max_retry_after_s,
                    waits=self._waits or WallWaits(stack.clock, self.done),
                ) as servers:
                    values = {
                        "task_file": str(task_file),
                        "workspace": str(workspace),
                        "report_file": str(report_file),
                        "scenario_dir": str(self.scenario_dir),
                    }
                    argv = tuple(self._expand(arg, values, servers.base_urls) for arg in self.spec.argv)
                    env = self._environment(stack, config, providers, servers.base_urls, values)
                    try:
                        ran = _run(argv, cwd=cwd, env=env, timeout_s=self.spec.timeout_s, files=files)
                    finally:
                        self.done.set()
                output = ProgramOutput(ran.argv, ran.exit_code, ran.stdout, ran.stderr, ran.wall_s, tuple(servers.log))
                report = read_report(report_file) if output.exit_code is not None else None
        except CellFailure as exc:
            raise CellFailure("\n".join([str(exc), *(output.tail() if output is not None else [])])) from None
        finally:
            meter.close()
        harness = meter.harness_error
        if isinstance(harness, LiveRefusal):
            raise harness
        if harness is not None:
            raise CellFailure("\n".join([f"replay:\n{harness}", *output.tail()]))
        if output.exit_code is None:
            raise CellFailure(
                "\n".join(
                    [
                        f"the program ran past agent.timeout_s={self.spec.timeout_s:g}s and was killed "
                        "with its process group",
                        *output.tail(),
                    ]
                )
            )
        if report is None:
            report = report_from_traffic(output.exit_code, runlog.attempts)
        runlog.program = output
        run = agent_run(report, meter, collector, runlog, config, agent=f"program {_command_line(argv)}")
        runlog.set_info(exit_code=output.exit_code, program_wall_s=round(output.wall_s, 3))
        return ProgramRun(**{f.name: getattr(run, f.name) for f in fields(run)}, program=output)

    def _expand(self, text: str, values: Mapping[str, str], base_urls: Mapping[str, str]) -> str:
        try:
            return placeholders.expand(text, values, base_urls)
        except KeyError as exc:
            raise CellFailure(
                f"agent.command: {{base_url:{exc.args[0]}}} names a provider this cell does not serve "
                f"(it serves {', '.join(base_urls)}: the primary route and agent.failover)"
            ) from None

    def _environment(
        self,
        stack: CellStack,
        config: AgentConfig,
        providers: list[Provider],
        base_urls: Mapping[str, str],
        values: Mapping[str, str],
    ) -> dict[str, str]:
        cell = stack.cell
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        sdk: dict[str, str] = {}
        for provider in reversed(providers):  # the primary's family variables are written last: they win
            base, key = base_urls[provider.name], _key(stack, provider)
            env[f"KYLECODE_BASE_URL_{provider.name.upper().replace('-', '_')}"] = base
            env.setdefault(provider.key_env, key)
            base_variable, key_variable = _SDK_VARIABLES[provider.protocol]
            # The Anthropic SDK appends /v1 itself; the OpenAI SDK takes the base URL as it is.
            sdk[base_variable] = base.removesuffix("/v1") if provider.protocol == "anthropic_messages" else base
            sdk[key_variable] = key
        for provider in providers:
            env[provider.key_env] = _key(stack, provider)
        env.update(sdk)
        timeouts = config.timeouts
        env.update(
            {
                "KYLECODE_ROUTE": cell.provider,
                "KYLECODE_PROVIDER": providers[0].name,
                "KYLECODE_MODEL": cell.provider.split("/", 1)[1],
                "KYLECODE_PROTOCOL": providers[0].protocol,
                "KYLECODE_STREAMING": "true" if cell.streaming else "false",
                "KYLECODE_TOOL_MODE": cell.tool_mode,
                "KYLECODE_FAILOVER": ",".join(r.name for r in resolve_routes(cell.provider, config.failover)[1:]),
                "KYLECODE_MAX_STEPS": str(config.max_steps),
                "KYLECODE_TASK_FILE": values["task_file"],
                "KYLECODE_WORKSPACE": values["workspace"],
                "KYLECODE_REPORT_FILE": values["report_file"],
                "KYLECODE_CONNECT_TIMEOUT_S": f"{timeouts.connect_s:g}",
                "KYLECODE_FIRST_BYTE_TIMEOUT_S": f"{timeouts.first_byte_s:g}",
                "KYLECODE_IDLE_TIMEOUT_S": f"{timeouts.idle_s:g}",
            }
        )
        for name, value in self.spec.env.items():
            env[name] = self._expand(value, values, base_urls)
        return env


def _providers(primary: str, config: AgentConfig) -> list[Provider]:
    """The providers of the cell's routes, primary first, each once."""
    found: dict[str, Provider] = {}
    for route in resolve_routes(primary, config.failover):
        found.setdefault(route.provider.name, route.provider)
    return list(found.values())


def _key(stack: CellStack, provider: Provider) -> str:
    """The key the program gets for ``provider``: the placeholder unless recording live."""
    return stack.env.get(provider.key_env, "") if stack.live else REPLAY_API_KEY


def _run(argv: tuple[str, ...], *, cwd: Path, env: dict[str, str], timeout_s: float, files: Path) -> ProgramOutput:
    """Run ``argv`` to its end or to ``timeout_s``; its process group is killed either way."""
    out_path, err_path = files / "stdout", files / "stderr"
    started = time.monotonic()
    exit_code: int | None = None
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
        except OSError as exc:
            raise CellFailure(f"agent.command: cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        try:
            exit_code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            exit_code = None
        finally:
            # What the program started is in its group: it goes too, on a timeout, an exit, or an
            # interrupted cell (the cell's wall-time limit, ^C).
            _kill_group(process.pid)
            process.wait()
    return ProgramOutput(argv, exit_code, out_path.read_bytes(), err_path.read_bytes(), time.monotonic() - started)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signal.SIGKILL)


def _command_line(argv: tuple[str, ...]) -> str:
    return shlex.join(argv)
