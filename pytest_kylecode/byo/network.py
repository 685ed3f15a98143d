"""No network in replay: while a byo cell replays, a socket may reach loopback only.

A replayed cell answers every provider call from its cassette; traffic that bypasses the cell's
transport (an agent that builds its own client, a framework that posts traces or fetches a
price map at import) would reach the real internet, or hang without it. ``NetworkGuard`` patches
``socket.socket.connect``/``connect_ex`` and ``socket.getaddrinfo`` for the duration of a cell:
a connection to an address outside loopback, or a name lookup of a host that is not loopback, is
refused with ``NetworkBlocked`` (an ``OSError``, as a refused connection is) naming the host and
the code that tried, and every refusal is kept so the cell fails with it even when the agent
swallowed the error. Unix sockets and the hosts given with ``--kylecode-allow-hosts`` pass.
Everything is restored when the cell ends, whatever happened.
"""

from __future__ import annotations

import ipaddress
import socket
import sysconfig
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

__all__ = ["NetworkBlocked", "NetworkGuard", "agent_frame"]

LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_HARNESS: Final = str(Path(__file__).resolve().parents[1])


class NetworkBlocked(ConnectionRefusedError):
    """A connection (or name lookup) a replaying cell refused."""


def agent_frame(frames: Sequence[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    """The frame that stands for "who did it": the innermost one in the user's own code (not the
    standard library, an installed package, the harness); failing that (a framework's own
    thread), the outermost one in an installed package; failing that, the innermost."""
    stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"], "<frozen")
    for frame in reversed(frames):
        name = frame.filename
        if not _installed(name) and not name.startswith((*stdlib, _HARNESS)):
            return frame
    for frame in frames:
        if _installed(frame.filename) and not frame.filename.startswith(_HARNESS):
            return frame
    return frames[-1] if frames else None


def _installed(filename: str) -> bool:
    return "site-packages" in filename or "dist-packages" in filename


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Refuses non-loopback connections while entered (``with NetworkGuard(allow):``).

    ``allow`` are host names or addresses that may still be reached (an allowed name also allows
    the addresses it resolved to). ``refused`` lists what was refused, one readable line each."""

    _lock = threading.Lock()

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow = {host.lower().rstrip(".") for host in allow if host}
        self.refused: list[str] = []
        self._names: dict[str, str] = {}  # resolved address -> the name it was looked up as
        self._saved: tuple[Any, Any, Any] | None = None

    def allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return _is_loopback(host) or host in self.allow or self._names.get(host, "") in self.allow

    def _refuse(self, host: str, port: object, what: str) -> NetworkBlocked:
        name = self._names.get(host)
        shown = f"{name} ({host})" if name and name != host else host
        frame = agent_frame(traceback.extract_stack())
        where = (
            f" from {frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"
            if frame is not None
            else ""
        )
        line = f"{what} {shown}:{port}{where}"
        with self._lock:
            self.refused.append(line)
        return NetworkBlocked(
            f"kylecode: the network is closed while a cell replays: {line} (only loopback is allowed; "
            "send provider calls through the cell's clients, or allow the host with --kylecode-allow-hosts)"
        )

    def __enter__(self) -> NetworkGuard:
        guard = self
        real_connect, real_connect_ex, real_getaddrinfo = (
            socket.socket.connect,
            socket.socket.connect_ex,
            socket.getaddrinfo,
        )

        def check(sock: socket.socket, address: object) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
                host = str(address[0])
                if not guard.allowed(host):
                    raise guard._refuse(host, address[1] if len(address) > 1 else "?", "connection to")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if isinstance(name, str) and name and not guard.allowed(name):
                try:
                    ipaddress.ip_address(name.split("%", 1)[0])
                except ValueError:  # a name: looking it up is already network traffic
                    raise guard._refuse(name, port, "name lookup of") from None
            found = real_getaddrinfo(host, port, *args, **kwargs)
            if isinstance(name, str) and name:
                for entry in found:
                    guard._names.setdefault(str(entry[4][0]), name.lower())
            return found

        with self._lock:
            self._saved = (real_connect, real_connect_ex, real_getaddrinfo)
            _patch(socket.socket, "connect", connect)
            _patch(socket.socket, "connect_ex", connect_ex)
            socket.getaddrinfo = getaddrinfo
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            assert self._saved is not None
            real_connect, real_connect_ex, real_getaddrinfo = self._saved
            _patch(socket.socket, "connect", real_connect)
            _patch(socket.socket, "connect_ex", real_connect_ex)
            socket.getaddrinfo = real_getaddrinfo
            self._saved = None


def _patch(cls: type, name: str, value: Callable[..., Any]) -> None:
    setattr(cls, name, value)
