"""``ParsedCassettes``: a cassette read through the cache is the cassette the file holds, always.

Real cassettes of the shipped matrix; real files in a temporary cache directory; real
concurrent processes for the xdist case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kylecode.cassettes.format import loads
from pytest_kylecode.cassettes.parsed_cache import ParsedCassettes
from pytest_kylecode.failures import CassetteError

ROOT = Path(__file__).resolve().parents[4]
SHIPPED = sorted((ROOT / "cassettes").rglob("*.yaml"))
STREAMED = next(p for p in SHIPPED if p.name.startswith("stream-") and p.stat().st_size > 4000)


def fresh(path: Path) -> object:
    return loads(path.read_text(encoding="utf-8"), source=str(path))


def copy(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "cassettes" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(path.read_bytes())
    return out


def test_every_shipped_cassette_reads_the_same_cold_and_warm(tmp_path: Path) -> None:
    cache = ParsedCassettes(tmp_path / "cache")
    for path in SHIPPED[::7]:  # a spread of providers, faults and streamed or not
        expected = fresh(path)
        assert cache.load(path) == expected  # cold: parsed, then kept
        assert cache.load(path) == expected  # warm: from the entry
    assert len(list((tmp_path / "cache").iterdir())) == len({p.read_bytes() for p in SHIPPED[::7]})


def test_a_hand_edit_is_seen_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    path = copy(STREAMED, tmp_path)
    cache = ParsedCassettes(tmp_path / "cache")
    before = cache.load(path)
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    edited = text.replace("status:\n      code: 200", "status:\n      code: 201", 1)
    assert edited != text and len(edited) == len(text)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = cache.load(path)
    assert before.interactions[0].status == 200
    assert after.interactions[0].status == 201
    assert after == fresh(path)


def test_a_damaged_entry_is_parsed_again_and_replaced(tmp_path: Path) -> None:
    path = copy(STREAMED, tmp_path)
    cache = ParsedCassettes(tmp_path / "cache")
    cache.load(path)
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(b"\x00not an entry")
    assert cache.load(path) == fresh(path)
    assert entry.read_bytes() != b"\x00not an entry"
    assert cache.load(path) == fresh(path)


def test_a_cache_that_cannot_be_written_still_reads_the_cassette(tmp_path: Path) -> None:
    path = copy(STREAMED, tmp_path)
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the directory should be", encoding="utf-8")
    assert ParsedCassettes(blocked).load(path) == fresh(path)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_corrupt_cassette_fails_as_it_does_without_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ninteractions: [{request: {}}]\n", encoding="utf-8")
    cache = ParsedCassettes(tmp_path / "cache")
    with pytest.raises(CassetteError, match="interaction 0 is corrupt"):
        cache.load(path)
    assert not (tmp_path / "cache").exists()  # a failed parse is never kept
    with pytest.raises(FileNotFoundError):
        cache.load(tmp_path / "absent.yaml")


READER = """
import sys
from pathlib import Path
from pytest_kylecode.cassettes.format import loads
from pytest_kylecode.cassettes.parsed_cache import ParsedCassettes
cache, path = ParsedCassettes(Path(sys.argv[1])), Path(sys.argv[2])
expected = loads(path.read_text(encoding="utf-8"), source=str(path))
for _ in range(30):
    assert cache.load(path) == expected
    for entry in Path(sys.argv[1]).glob("*.marshal"):
        entry.unlink(missing_ok=True)  # forces the next load to write again, racing the other process
"""


def test_concurrent_processes_share_one_cache_directory(tmp_path: Path) -> None:
    path = copy(STREAMED, tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / "cache"), str(path)], env=env) for _ in range(2)
    ]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")] == []
