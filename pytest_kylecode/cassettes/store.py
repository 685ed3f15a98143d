"""One cell's cassette: which mode does what, and writing it back.

=============  ==========================================  ==========================
record mode    requests answered from                      cassette written
=============  ==========================================  ==========================
none (CI)      the cassette only; a miss fails the cell    never
once           the cassette if it exists, else upstream    only when it did not exist
new_episodes   the cassette, then upstream for the rest    old + new interactions
all, rewrite   upstream only                               replaced
off            upstream directly, no cassette at all       never
=============  ==========================================  ==========================

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
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from agent_runtime import __version__
from agent_runtime.clock import Clock
from agent_runtime.observe.redact import MASK, find_secrets, redact_fragments, redact_json, redact_text, redact_url

from pytest_kylecode.options import Settings
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.cassettes.format import CassetteError, CassetteFile, Recorded, dumps, load
from pytest_kylecode.cassettes.matching import RequestNormalizer
from pytest_kylecode.cassettes.transport import CassetteTransport

UpstreamFactory = Callable[[Cell, Clock], httpx.BaseTransport]


class CassetteSession:
    def __init__(self, settings: Settings, cell: Cell, *, clock: Clock, workspace: Path, env: Mapping[str, str],
                 upstream: UpstreamFactory, rerecord: str) -> None:
        self.settings = settings
        self.cell = cell
        self.clock = clock
        self.env = env
        self.path = settings.cassettes / cell.cassette_relpath
        # Keys the runtime was not given (replay, emulator) are still secrets: requests are matched
        # redacted of them, as cassettes are written redacted of them.
        self.normalizer = RequestNormalizer(workspace, {**os.environ, **env})
        self._upstream = upstream
        self._rerecord = rerecord
        self._existing: CassetteFile | None = None
        self.transport: CassetteTransport | None = None
        self.recording = False
        self.changed = False

    @property
    def mode(self) -> str:
        return self.settings.record

    def _fail(self, message: str) -> Exception:
        from pytest_kylecode.cell import CellFailure

        return CellFailure(f"{message}\nre-record this cell: {self._rerecord}")

    def open(self, *, abort_on_miss: bool = False) -> httpx.BaseTransport:
        mode = self.mode
        if mode == "off":
            return self._upstream(self.cell, self.clock)
        if mode in ("none", "once", "new_episodes"):
            self._existing = self._load()
        if mode == "none" and self._existing is None:
            raise self._fail(f"no cassette for this cell: {self.path}")
        if self._existing is not None and mode in ("none", "once"):
            self._check_hash(self._existing)
        replay_only = mode == "none" or (mode == "once" and self._existing is not None)
        recorded = list(self._existing.interactions) if self._existing is not None else []
        self.recording = not replay_only
        upstream = self._upstream(self.cell, self.clock) if self.recording else None
        self.transport = CassetteTransport(recorded, clock=self.clock, normalizer=self.normalizer, upstream=upstream,
                                           abort_on_miss=abort_on_miss)
        return self.transport

    def _load(self) -> CassetteFile | None:
        try:
            return load(self.path)
        except FileNotFoundError:
            return None
        except CassetteError as exc:
            raise self._fail(str(exc)) from None

    def _check_hash(self, cassette: CassetteFile) -> None:
        recorded = cassette.meta.get("scenario_hash")
        current = self.cell.scenario.content_hash
        if recorded != current:
            raise self._fail(
                f"the cassette {self.path} was recorded for another version of scenario "
                f"{self.cell.scenario.name!r} (scenario hash {recorded}, now {current}: its task, workspace, "
                "script or agent changed)")

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
                problems.append(f"interaction {index} ({item.method} {item.uri}) of {self.path} was recorded "
                                "but never requested: the runtime now makes fewer calls")
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
        interactions = [_scrub(item, env) for item in interactions]
        meta = {
            "scenario": self.cell.scenario.name,
            "cell": self.cell.id,
            "scenario_hash": self.cell.scenario.content_hash,
            "upstream": self.settings.upstream,
            "runtime_version": __version__,
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        old = self._existing if self._existing is not None else _try_load(self.path)
        if old is not None and old.meta.get("scenario_hash") == meta["scenario_hash"] and \
                dumps(CassetteFile({}, old.interactions)) == dumps(CassetteFile({}, interactions)):
            return  # same traffic: keep the file (and its recorded_at) as it is
        text = dumps(CassetteFile(meta, interactions))
        leaked = find_secrets(text, env) or _leaks_across_events(interactions, env)
        if leaked:
            masked = ", ".join(sorted({s[:6] + "…" for s in leaked}))
            raise self._fail(f"refusing to write {self.path}: key-shaped values survived scrubbing ({masked})")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self.changed = True


def _try_load(path: Path) -> CassetteFile | None:
    try:
        return load(path)
    except (FileNotFoundError, CassetteError):
        return None


# A streamed answer that echoes a key splits it over several events ("sk", "-ant", "-api03..."):
# no single event holds the whole key. Fragments this long of a known key are redacted in every
# event, and the text the events add up to is checked again before anything is written.
_TEXT_FIELDS = frozenset({"text", "content", "delta", "partial_json", "arguments", "thinking", "reasoning",
                          "reasoning_content", "refusal"})


def _streamed_text(item: Recorded) -> str:
    """The text, reasoning and argument fragments of a streamed body, joined in order."""
    out: list[str] = []

    def walk(value: Any, field: str | None) -> None:
        if isinstance(value, dict):
            for name, child in value.items():
                walk(child, name)
        elif isinstance(value, list):
            for child in value:
                walk(child, field)
        elif isinstance(value, str) and field in _TEXT_FIELDS:
            out.append(value)

    for line in item.body.decode("utf-8", errors="replace").splitlines():
        if line.startswith("data:"):
            try:
                walk(json.loads(line[5:]), None)
            except ValueError:
                continue
    return "".join(out)


# What is left of a streamed key whose secret part was masked: the prefix pieces ("sk", "-", "ant",
# "-", "api03", "-") before "[REDACTED]". Key-shaped by pattern, yet nothing secret remains.
_MASKED_KEY_PREFIX = re.compile(r"[A-Za-z0-9_\-]+(?=" + re.escape(MASK) + ")")


def _leaks_across_events(items: list[Recorded], env: Mapping[str, str]) -> list[str]:
    return [secret for item in items if item.is_sse
            for secret in find_secrets(_MASKED_KEY_PREFIX.sub("", _streamed_text(item)), env)]


def _scrub(item: Recorded, env: Mapping[str, str]) -> Recorded:
    """Secrets out of everything a cassette keeps: URI, request body, response body."""
    chunks = []
    for offset, data in item.chunks:
        text = data.decode("utf-8", errors="surrogateescape")
        scrubbed = redact_fragments(redact_text(text, env), env)
        chunks.append((offset, data if scrubbed == text else scrubbed.encode("utf-8", errors="surrogateescape")))
    return Recorded(
        method=item.method, uri=redact_url(item.uri, env), request_headers=dict(item.request_headers),
        request_json=redact_json(item.request_json, env), status=item.status, reason=item.reason,
        response_headers=dict(item.response_headers), chunks=chunks,
    )
