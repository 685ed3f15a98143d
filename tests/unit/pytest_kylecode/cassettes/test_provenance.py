"""A cassette's provenance read from its head: the same answer as a full load, whatever the layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_kylecode.cassettes.format import CassetteError, CassetteFile, dumps, load
from pytest_kylecode.cassettes.provenance import HEAD_BYTES, read_provenance

ROOT = Path(__file__).resolve().parents[4]
SHIPPED = sorted((ROOT / "cassettes").rglob("*.yaml"))
META = {
    "scenario": "basic",
    "cell": "openai/gpt-4o-mini-stream-native-none",
    "scenario_hash": "sha256:0123456789abcdef",
    "upstream": "emulator",
    "runtime_version": "0.1.0",
    "recorded_at": "2026-11-23T13:12:49Z",
}
INTERACTION = {
    "request": {
        "method": "POST",
        "uri": "https://api.openai.com/v1/chat/completions",
        "headers": {},
        "parsed_body": {"model": "gpt-4o-mini"},
    },
    "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "parsed_body": {"ok": True}},
}


def test_every_shipped_cassette_reads_as_a_full_load_does() -> None:
    assert len(SHIPPED) > 100
    assert [read_provenance(p) for p in SHIPPED] == [load(p).meta for p in SHIPPED]


def test_what_the_writer_writes_is_answered_from_the_head(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dumps(CassetteFile(META, [])), encoding="utf-8")
    assert read_provenance(path) == META
    # A body the head never reaches is not parsed: a broken one goes unnoticed here (replay tells).
    path.write_text(
        dumps(CassetteFile(META, [])).replace("interactions: []", "interactions: [ {broken"), encoding="utf-8"
    )
    assert read_provenance(path) == META


@pytest.mark.parametrize("layout", ["provenance last", "no provenance", "provenance longer than the head"])
def test_other_layouts_are_loaded_whole(tmp_path: Path, layout: str) -> None:
    meta = dict(META)
    if layout == "provenance last":
        data = {"version": 1, "interactions": [INTERACTION], "kylecode": meta}
    elif layout == "no provenance":
        data, meta = {"version": 1, "interactions": [INTERACTION]}, {}
    else:
        meta["note"] = "x" * (2 * HEAD_BYTES)
        data = {"version": 1, "kylecode": meta, "interactions": [INTERACTION]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=10 * HEAD_BYTES), encoding="utf-8")
    assert read_provenance(path) == meta


def test_a_file_that_is_no_cassette_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nkylecode: [not, a, mapping]\ninteractions: {}\n", encoding="utf-8")
    with pytest.raises(CassetteError, match=r"c\.yaml"):
        read_provenance(path)
