"""``kylecode emulate --scenario FILE [--port N] [--fault KIND [--fault-at N] [--fault-times N]]``.

Serves the scenario's ``script`` as a provider speaking all three wire protocols on a loopback
port, and prints ``listening on http://127.0.0.1:PORT``. Point any client at it (for the runtime:
``KYLECODE_<PROVIDER>_BASE_URL=http://127.0.0.1:PORT/v1``). With ``--fault`` the emulator is
served through the FaultTransport, counting every call to the server. Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command imports its machinery only when it runs
    import httpx

    from agent_runtime.clock import Clock
    from pytest_kylecode.emulator.script import Turn
    from pytest_kylecode.faults.catalog import FaultSpec

HELP = "serve a scenario's script as an emulated provider (all three wire protocols) on a loopback port"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pytest_kylecode.faults.catalog import FAULT_KINDS  # a tuple of names: cheap

    parser.add_argument(
        "--scenario",
        required=True,
        metavar="FILE",
        type=Path,
        help="scenario YAML whose `script` the emulated model plays",
    )
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (default 0: a free port, printed on start)"
    )
    parser.add_argument(
        "--fault",
        choices=FAULT_KINDS,
        default=None,
        metavar="KIND",
        help="inject a fault (one of: " + ", ".join(FAULT_KINDS) + ")",
    )
    parser.add_argument(
        "--fault-at",
        type=int,
        default=None,
        metavar="N",
        help="first faulted call, counting every call to the server from 1 (default 1)",
    )
    parser.add_argument(
        "--fault-times", type=int, default=None, metavar="N", help="number of consecutive faulted calls (default 1)"
    )


def serve_transport(inner: httpx.BaseTransport, fault: FaultSpec | None, clock: Clock) -> httpx.BaseTransport:
    """The transport ``kylecode emulate`` serves: the emulator, wrapped by the FaultTransport.

    ``fault`` is a ``faults.catalog.FaultSpec`` with ``route="any"`` (every call to the server
    counts, retries included) or ``None``. Faults use the runtime's default timeouts on the real
    ``clock``: a ``stall`` really pauses ``idle_s`` + 1 s, a ``timeout`` holds the first byte
    ``first_byte_s`` + 1 s. No route names a provider here, so provider-specific shapes fall back
    to each protocol's own provider (OpenAI, Anthropic).
    """
    if fault is None or fault.kind == "none":
        return inner
    from agent_runtime.config import Timeouts
    from pytest_kylecode.faults.transport import FaultTransport

    return FaultTransport(inner, fault, primary="", clock=clock, timeouts=Timeouts())


def run(args: argparse.Namespace) -> int:
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport
    from pytest_kylecode.loopback import LoopbackClock, LoopbackServer

    scenario: Path = args.scenario
    port: int = args.port
    fault_kind: str | None = args.fault
    fault_at: int | None = args.fault_at
    fault_times: int | None = args.fault_times
    try:
        fault = _fault_spec(fault_kind, fault_at, fault_times)
        script = _load_script(scenario)
    except ConfigError as exc:
        print(f"kylecode emulate: {exc}", file=sys.stderr)
        return 2
    # The real clock with immediate pacing: responses go out at once; only faults add delays,
    # and the server waits those out without holding a thread (a stall costs its connection only).
    clock = LoopbackClock()
    transport = serve_transport(EmulatorTransport(script, clock=clock, timing=IMMEDIATE), fault, clock)
    if not 0 <= port <= 65535:
        print(f"kylecode emulate: --port must be 0..65535, got {port}", file=sys.stderr)
        return 2
    try:
        server = LoopbackServer(transport, port=port, log=lambda line: print(line, file=sys.stderr, flush=True))
    except OSError as exc:
        print(f"kylecode emulate: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"listening on {server.url}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server the way Ctrl-C does


def _fault_spec(kind: str | None, at: int | None, times: int | None) -> FaultSpec | None:
    """The fault of ``--fault KIND --fault-at N --fault-times N``; a ConfigError for a misuse."""
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.faults.catalog import FaultSpec

    if kind is None:
        if at is not None or times is not None:
            raise ConfigError("--fault-at and --fault-times need --fault KIND")
        return None
    for option, value in (("--fault-at", at), ("--fault-times", times)):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be a positive integer, got {value}")
    return FaultSpec(kind=kind, at=at or 1, times=times or 1, route="any")


def _load_script(path: Path) -> list[Turn]:
    """The scenario's ``script``, read by the checked YAML loader ``scenarios validate`` uses
    (line numbers, duplicate keys, depth and alias limits); errors name ``file:line``."""
    from agent_runtime.errors import ConfigError
    from agent_runtime.yamlsource import load, parse_keypath
    from pytest_kylecode.emulator import parse_script

    try:
        document = load(path)
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario: {exc.strerror or exc}", where=str(path)) from None
    data = document.data
    if not isinstance(data, dict) or "script" not in data:
        raise ConfigError(
            "a scenario file is a mapping with a `script` list (what the emulated model does)", where=str(path)
        )
    try:
        return parse_script(data["script"], key="script")
    except ConfigError as exc:
        keypath = parse_keypath(exc.key) if exc.key else ("script",)
        raise ConfigError(str(exc), where=document.where(keypath)) from None
