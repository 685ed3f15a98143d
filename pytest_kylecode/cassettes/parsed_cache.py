"""Parsed cassettes kept between runs, so a replay parses each cassette once, not once per run.

Reading a cassette is YAML parsing (``format.loads``, libyaml events): most of what a replayed cell
costs the plugin. ``ParsedCassettes`` keeps each parse in a directory (the pytest cache's, under
``.pytest_cache``), one file per cassette *content*: the entry's name is a hash of the cassette's
bytes and of the parser that read them, so

- a hand edit of a cassette (same size, same mtime even) is a new hash: it is parsed again, never
  answered from a stale entry;
- a change of the parser (this package's ``format``/``yamldata`` modules, the Python version) is a
  new hash too: no entry outlives the code that wrote it;
- concurrent readers and writers (xdist workers) need no lock: an entry is written to a temporary
  file and renamed into place, and two writers of one name write the same bytes.

Entries hold ``marshal`` data (str, bytes, numbers, lists, dicts: what a parsed cassette is made
of), which loads in tens of microseconds against milliseconds of YAML. The cache is a speed-up
only: an entry that cannot be read or written, or a cassette whose parse marshal cannot hold (a
hand-written YAML timestamp), is parsed as before, and errors are those of the cassette itself.
A cold run pays the hash and one small write per cassette on top of the parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import secrets
import sys
from functools import cache
from pathlib import Path

from pytest_kylecode.cassettes import format, yamldata
from pytest_kylecode.cassettes.format import CassetteFile, Interaction
from pytest_kylecode.cassettes.limits import size_problem
from pytest_kylecode.failures import CassetteError

__all__ = ["ParsedCassettes", "load"]

# The pytest cache key (``config.cache.mkdir``) the entries live under.
CACHE_KEY = "kylecode-parsed-cassettes"

_Entry = tuple[
    str, str, dict[str, str], object, int, str, dict[str, str], list[tuple[float, bytes]]
]  # Interaction's fields, in order


@cache
def _parser_tag() -> bytes:
    """What a parse depends on besides the cassette: the parsing modules' source and the runtime."""
    digest = hashlib.blake2b(digest_size=16)
    for module in (format, yamldata):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(f"{sys.implementation.cache_tag} marshal {marshal.version}".encode())
    return digest.digest()


class ParsedCassettes:
    """Parsed cassettes in ``directory`` (created on first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self, path: Path) -> CassetteFile:
        """The cassette at ``path``, as ``format.load`` gives it; raises what it raises."""
        too_big = size_problem(path.stat().st_size)
        if too_big:  # refused before it is read, as format.load does
            raise CassetteError(f"{path}: {too_big}")
        raw = path.read_bytes()
        digest = hashlib.blake2b(raw, digest_size=20, key=_parser_tag()).hexdigest()
        entry = self.directory / f"{digest}.marshal"
        cached = _read(entry)
        if cached is not None:
            return cached
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CassetteError(f"{path}: corrupt cassette (not UTF-8 at byte {exc.start})") from None
        cassette = format.loads(text, source=str(path))
        _write(entry, cassette)
        return cassette


def load(path: Path, cache: ParsedCassettes | None) -> CassetteFile:
    """``path`` through ``cache``, or through ``format.load`` when there is none."""
    return format.load(path) if cache is None else cache.load(path)


def _read(entry: Path) -> CassetteFile | None:
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    try:
        meta, items = marshal.loads(data)
        return CassetteFile(meta, [Interaction(*item) for item in items])
    except (ValueError, EOFError, TypeError):
        return None  # not an entry this code wrote: parsed again, and rewritten


def _write(entry: Path, cassette: CassetteFile) -> None:
    items: list[_Entry] = [
        (
            i.method,
            i.uri,
            i.request_headers,
            i.request_json,
            i.status,
            i.reason,
            i.response_headers,
            i.chunks,
        )
        for i in cassette.interactions
    ]
    try:
        data = marshal.dumps((cassette.meta, items))
    except ValueError:
        return  # a value marshal cannot hold (a YAML timestamp in a hand-written cassette)
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, entry)
    except OSError:  # a read-only or full cache directory: the parse still stands
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
