"""``CassetteSession``: what each record mode reads, and writing the recording back.

Real traffic: an ``httpx.Client`` on the session's transport, the emulator as the upstream of a
recording. ``commit`` writes only what was recorded, through a temporary file and a rename (a
reader of the old file still reads it whole), leaves the file untouched when the traffic is the
same, and refuses to write a key that survived scrubbing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from pytest_kylecode.cassettes.format import load
from pytest_kylecode.cassettes.modes import RecordMode
from pytest_kylecode.cassettes.store import CassetteSession, CassetteSpec
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.failures import CassetteMissing, CassetteRefused, CassetteStale

from ..emulated import request_body

URL = "https://api.openai.com/v1/chat/completions"
HELLO = [{"text": "Hello there, the notes are written."}]


def session(
    tmp_path: Path, mode: RecordMode, script: list[dict[str, Any]] = HELLO, scenario_hash: str = "sha256:1"
) -> CassetteSession:
    clock = VirtualClock()
    (tmp_path / "ws").mkdir(exist_ok=True)
    spec = CassetteSpec(
        tmp_path / "cassettes" / "demo.yaml",
        mode,
        {"scenario": "demo", "cell": "openai/gpt-4o-mini-stream-native-none", "scenario_hash": scenario_hash},
    )
    return CassetteSession(
        spec,
        clock=clock,
        workspace=tmp_path / "ws",
        env={},
        upstream=lambda: EmulatorTransport(parse_script(script), clock=clock),
    )


def talk(cassettes: CassetteSession) -> str:
    """One streamed chat call through the session, read to the end; what the model said."""
    with httpx.Client(transport=cassettes.open()) as http:
        response = http.post(URL, json=request_body("openai_chat", stream=True, tools=False))
        assert response.status_code == 200
        return response.text


def recorded(tmp_path: Path, script: list[dict[str, Any]] = HELLO) -> Path:
    cassettes = session(tmp_path, "all", script)
    talk(cassettes)
    assert cassettes.finish() == []
    cassettes.commit()
    return cassettes.path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_recording_is_written_by_commit_only(tmp_path: Path) -> None:
    cassettes = session(tmp_path, "all")
    talk(cassettes)
    assert cassettes.recording and cassettes.finish() == []
    assert not cassettes.path.exists()  # a cell that fails is never committed: nothing written
    cassettes.commit()
    assert cassettes.changed
    [interaction] = load(cassettes.path).interactions
    assert (interaction.method, interaction.uri, interaction.status) == ("POST", URL, 200)
    assert load(cassettes.path).meta["scenario_hash"] == "sha256:1"
    assert leftovers(cassettes.path.parent) == []


def test_a_replay_reads_the_cassette_and_writes_nothing(tmp_path: Path) -> None:
    path = recorded(tmp_path)
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    cassettes = session(tmp_path, "none", script=[{"text": "not what was recorded"}])
    assert "Hello" in talk(cassettes)  # the recorded answer, not the upstream's
    assert not cassettes.recording and cassettes.finish() == []
    cassettes.commit()
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp and not cassettes.changed


def test_a_rerecording_replaces_the_file_through_a_rename(tmp_path: Path) -> None:
    path = recorded(tmp_path)
    old = path.read_text(encoding="utf-8")
    cassettes = session(tmp_path, "all", script=[{"text": "Something else entirely."}])
    talk(cassettes)
    with path.open(encoding="utf-8") as reader:  # opened before the write
        cassettes.commit()
        assert reader.read() == old  # the old file, whole: never truncated and rewritten in place
    assert cassettes.changed and "entirely" in path.read_text(encoding="utf-8")
    assert leftovers(path.parent) == []


def test_identical_traffic_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = recorded(tmp_path)
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    cassettes = session(tmp_path, "all")
    talk(cassettes)
    cassettes.commit()
    assert not cassettes.changed
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp  # recorded_at kept too


def test_a_key_that_survived_scrubbing_refuses_the_write(tmp_path: Path) -> None:
    # No variable holds this key: only its shape betrays it, and streamed, the model's text
    # arrives in pieces ("sk", "-", "proj", ...) that no single event shows whole.
    cassettes = session(tmp_path, "all", script=[{"text": "Your key is sk-proj-LEAKEDLEAKED1234567890, keep it."}])
    talk(cassettes)
    with pytest.raises(CassetteRefused, match="key-shaped values survived scrubbing"):
        cassettes.commit()
    assert not cassettes.path.exists() and not cassettes.changed
    assert not cassettes.path.parent.exists() or leftovers(cassettes.path.parent) == []


def test_replay_without_a_cassette_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CassetteMissing, match="no cassette for this cell"):
        session(tmp_path, "none").open()


@pytest.mark.parametrize("mode", ["none", "once"])
def test_a_cassette_of_another_scenario_version_is_stale(tmp_path: Path, mode: RecordMode) -> None:
    recorded(tmp_path)
    with pytest.raises(CassetteStale, match=r"sha256:1, now sha256:2"):
        session(tmp_path, mode, scenario_hash="sha256:2").open()


def test_once_records_only_what_is_missing(tmp_path: Path) -> None:
    first = session(tmp_path, "once")
    talk(first)
    assert first.recording
    first.commit()
    again = session(tmp_path, "once", script=[{"text": "not what was recorded"}])
    assert "Hello" in talk(again) and not again.recording


def test_off_talks_to_the_upstream_and_keeps_nothing(tmp_path: Path) -> None:
    cassettes = session(tmp_path, "off")
    assert "Hello" in talk(cassettes)
    assert cassettes.finish() == []
    cassettes.commit()
    assert not (tmp_path / "cassettes").exists()
