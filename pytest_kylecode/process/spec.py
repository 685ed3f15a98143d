"""``agent: {command: [...]}``: how a scenario names a program to run as its cell's agent.

The keys beside ``command`` (``env``, ``cwd``, ``timeout_s``, ``max_retry_after_s``) belong to it
alone; the other ``agent:`` keys keep their meaning (``timeouts`` are the program's own, which
``timeout`` and ``stall`` faults outlast by one second; ``max_steps`` reaches it as a variable).
``scenarios.validate`` checks a written spec and builds this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["DEFAULT_TIMEOUT_S", "PROGRAM_KEYS", "ProgramSpec"]

PROGRAM_KEYS: Final = ("command", "env", "cwd", "timeout_s", "max_retry_after_s")
DEFAULT_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class ProgramSpec:
    """A program and how it runs: ``argv`` (no shell), extra ``env``, ``cwd`` (relative to the
    workspace), ``timeout_s`` (wall time, then its whole process group is killed) and
    ``max_retry_after_s`` (a cap on the ``Retry-After`` it is served; ``None`` = as recorded).
    Texts may hold ``{placeholders}`` (``process.placeholders``)."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retry_after_s: float | None = None
