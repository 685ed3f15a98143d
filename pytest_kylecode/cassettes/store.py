"""One cell's cassette: which record mode does what (``cassettes.modes``), and writing it back.

The cassette layer knows files, modes and traffic, never the test that uses it: a
``CassetteSession`` is built from plain values (``CassetteSpec``) and raises the failure
vocabulary (``CassetteMissing``, ``CassetteStale``, ``CassetteError``, ``CassetteRefused``); the
cell layer turns those into advice.

Recording and writing are two steps. ``finish`` ends the cell's traffic and
says what went wrong with it (misses, unplayed interactions, an upstream that
failed while recording); ``commit`` writes the recorded cassette, and the cell
layer calls it only once the whole cell has passed: a failed recording leaves
the existing cassette byte for byte as it was and creates none. A cassette is
written only when its interactions changed (re-recording identical traffic
leaves the file, and git, untouched), after every secret was scrubbed; a
key-shaped value that survived scrubbing refuses the write.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent_runtime import __version__
from agent_runtime.clock import Clock
from agent_runtime.paths import write_atomic
from pytest_kylecode.cassettes.format import CassetteFile, Interaction, dumps, load
from pytest_kylecode.cassettes.matching import MatchRules, RequestNormalizer
from pytest_kylecode.cassettes.modes import RecordMode
from pytest_kylecode.cassettes.parsed_cache import ParsedCassettes, load as load_parsed
from pytest_kylecode.cassettes.scrub import scrub, surviving_secrets
from pytest_kylecode.cassettes.transport import CassetteTransport
from pytest_kylecode.failures import CassetteError, CassetteMissing, CassetteRefused, CassetteStale


@dataclass(frozen=True, slots=True)
class CassetteSpec:
    """A cell's cassette in plain values: where it is, how to use it, and what it says of itself.

    ``provenance`` is the start of the cassette's ``kylecode:`` mapping, in order (scenario, cell,
    ``scenario_hash``, upstream); the runtime version and the time of recording follow it. Its
    ``scenario_hash`` is what a replay checks the cassette against. ``match`` says what a request is
    compared on (``cassettes.matching``)."""

    path: Path
    mode: RecordMode
    provenance: Mapping[str, str]
    match: MatchRules = field(default_factory=MatchRules.defaults)

    @property
    def scenario_hash(self) -> str:
        return self.provenance["scenario_hash"]


class CassetteSession:
    """One cell's use of its cassette: ``open`` gives the transport, ``finish`` the problems,
    ``commit`` the write. ``upstream`` makes the transport a recording asks (emulator or live)."""

    def __init__(
        self,
        spec: CassetteSpec,
        *,
        clock: Clock,
        workspace: Path,
        env: Mapping[str, str],
        upstream: Callable[[], httpx.BaseTransport],
        parsed: ParsedCassettes | None = None,
    ) -> None:
        """``parsed``: where parses of cassettes are kept between runs (none: parsed every time)."""
        self.spec = spec
        self.path = spec.path
        self.clock = clock
        self.env = env
        # Keys the runtime was not given (replay, emulator) are still secrets: requests are matched
        # redacted of them, as cassettes are written redacted of them.
        self.normalizer = RequestNormalizer(workspace, {**os.environ, **env})
        self._upstream = upstream
        self._parsed = parsed
        self._existing: CassetteFile | None = None
        self.transport: CassetteTransport | None = None
        self.recording = False
        self.changed = False

    @property
    def mode(self) -> RecordMode:
        return self.spec.mode

    def open(self, *, abort_on_miss: bool = False) -> httpx.BaseTransport:
        mode = self.mode
        if mode == "off":
            return self._upstream()
        if mode in ("none", "once", "new_episodes"):
            self._existing = self._load()
        if mode == "none" and self._existing is None:
            raise CassetteMissing(f"no cassette for this cell: {self.path}")
        if self._existing is not None and mode in ("none", "once"):
            self._check_hash(self._existing)
        replay_only = mode == "none" or (mode == "once" and self._existing is not None)
        recorded = list(self._existing.interactions) if self._existing is not None else []
        self.recording = not replay_only
        upstream = self._upstream() if self.recording else None
        self.transport = CassetteTransport(
            recorded,
            clock=self.clock,
            normalizer=self.normalizer,
            upstream=upstream,
            abort_on_miss=abort_on_miss,
            rules=self.spec.match,
        )
        return self.transport

    def _load(self) -> CassetteFile | None:
        try:
            return load_parsed(self.path, self._parsed)
        except FileNotFoundError:
            return None

    def _check_hash(self, cassette: CassetteFile) -> None:
        recorded = cassette.meta.get("scenario_hash")
        current = self.spec.scenario_hash
        if recorded != current:
            scenario = self.spec.provenance.get("scenario", "?")
            raise CassetteStale(
                f"the cassette {self.path} was recorded for another version of scenario "
                f"{scenario!r} (scenario hash {recorded}, now {current}: its task, workspace, "
                "script or agent changed)"
            )

    def finish(self) -> list[str]:
        """Problems that fail the cell: misses, unplayed interactions, and, when recording, every
        upstream failure (a refused connection, an error answer) that no fault of the cell injected:
        such traffic is no recording of the scenario."""
        transport = self.transport
        if transport is None:
            return []
        problems = [miss.report for miss in transport.misses]
        if self.mode in ("none", "once") and transport.new == [] and transport.recorded:
            for index in transport.unplayed:
                item = transport.recorded[index]
                problems.append(
                    f"interaction {index} ({item.method} {item.uri}) of {self.path} was recorded "
                    "but never requested: the runtime now makes fewer calls"
                )
        if self.recording:
            problems += transport.upstream_failures
        return problems

    def commit(self) -> None:
        """Write what was recorded (nothing when the cell only replayed).

        Written even when empty: a cell whose traffic never reaches the upstream (a fail-fast
        fault) still has its cassette, so replay can tell "no calls" from "never recorded"."""
        if self.recording and self.transport is not None:
            self._write(self.transport)

    def _write(self, transport: CassetteTransport) -> None:
        interactions = [*transport.recorded, *transport.new] if self.mode == "new_episodes" else transport.new
        # Keys the runtime was not given (replay, emulator) are still secrets in the environment.
        env = {**os.environ, **self.env}
        interactions = [scrub(item, env) for item in interactions]
        meta = {
            **self.spec.provenance,
            "runtime_version": __version__,
            "recorded_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        old = self._existing if self._existing is not None else _try_load(self.path)
        if (
            old is not None
            and old.meta.get("scenario_hash") == meta["scenario_hash"]
            and self._identity(old.interactions) == self._identity(interactions)
        ):
            return  # same traffic (ignored request fields aside): keep the file and its recorded_at
        text = dumps(CassetteFile(meta, interactions))
        leaked = surviving_secrets(text, interactions, env)
        if leaked:
            masked = ", ".join(sorted({s[:6] + "…" for s in leaked}))
            raise CassetteRefused(f"refusing to write {self.path}: key-shaped values survived scrubbing ({masked})")
        try:
            write_atomic(self.path, text)
        except OSError as exc:
            raise CassetteRefused(
                f"cannot write {self.path}: {exc.strerror or exc}; the cassette on disk is as it was"
            ) from None
        self.changed = True

    def _identity(self, interactions: list[Interaction]) -> str:
        return dumps(CassetteFile({}, [self.spec.match.identity(item) for item in interactions]))


def _try_load(path: Path) -> CassetteFile | None:
    try:
        return load(path)
    except (FileNotFoundError, CassetteError):
        return None
