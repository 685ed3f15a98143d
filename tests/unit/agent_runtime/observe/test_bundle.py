import base64
import hashlib
import json
import os
import zipfile

import pytest

from agent_runtime.errors import KylecodeError
from agent_runtime.observe.bundle import BundleError, build_bundle

from ..fakes import CANARY, ENV_CANARY, canary_runlog


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_CANARY)
    return canary_runlog().write(tmp_path / "runs", "scenario", "cell")


def test_bundle_holds_the_run_files_and_a_manifest(run_dir):
    out = build_bundle(run_dir)
    assert out == run_dir.with_name(run_dir.name + ".zip")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names[-1] == "manifest.json"
        manifest = json.loads(zf.read("manifest.json"))
        assert {
            "meta/capability_probes.json",
            "meta/provider_metrics.json",
            "meta/requests/turn_1_1.json",
            "raw/responses/turn_1_1.txt",
            "errors/turn_1_1.json",
            "conversation/conversation.md",
        } <= set(names)
        assert [f["path"] for f in manifest["files"]] == names[:-1]
        for entry in manifest["files"]:
            data = zf.read(entry["path"])
            assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_bundle_is_deterministic(run_dir, tmp_path):
    a = build_bundle(run_dir, tmp_path / "a.zip")
    b = build_bundle(run_dir, tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()


def test_bundle_redacts_again_on_the_way_in(run_dir, tmp_path):
    # A run directory edited after the fact (or written by an older version) still ships no key.
    (run_dir / "conversation" / "conversation.md").write_text(f"pasted {CANARY} and {ENV_CANARY}\n")
    (run_dir / "meta" / "requests" / "turn_1_1.json").write_text(json.dumps({"headers": {"x": "y"}, "token": "tok123"}))
    raw = run_dir / "raw" / "responses" / "turn_1_1.txt"
    raw.write_text("status: 502\nencoding: base64\n\n" + base64.b64encode(f"<html>{CANARY}</html>".encode()).decode())
    with zipfile.ZipFile(build_bundle(run_dir, tmp_path / "x.zip")) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert b"CANARY" not in data and ENV_CANARY.encode() not in data, name
        assert json.loads(zf.read("meta/requests/turn_1_1.json"))["token"] == "[REDACTED]"
        body = zf.read("raw/responses/turn_1_1.txt").decode().split("\n\n", 1)[1]
        assert base64.b64decode(body) == b"<html>[REDACTED]</html>"


def test_bundle_refuses_symlinks(run_dir, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("private")
    os.symlink(secret, run_dir / "errors" / "leak.json")
    with pytest.raises(BundleError, match=r"symlink errors/leak\.json"):
        build_bundle(run_dir, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_bundle_refuses_symlinked_directories(run_dir, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.txt").write_text("private")
    os.symlink(tmp_path / "elsewhere", run_dir / "meta" / "linked")
    with pytest.raises(BundleError, match="symlink"):
        build_bundle(run_dir, tmp_path / "x.zip")


def test_bundle_refuses_run_dir_symlink_and_output_inside(run_dir, tmp_path):
    os.symlink(run_dir, tmp_path / "alias")
    with pytest.raises(BundleError, match="symlink"):
        build_bundle(tmp_path / "alias")
    with pytest.raises(BundleError, match="outside the run directory"):
        build_bundle(run_dir, run_dir / "meta" / "b.zip")


def test_bundle_ignores_files_outside_the_listed_parts(run_dir, tmp_path):
    (run_dir / "workspace_copy.txt").write_text("not for the vendor")
    with zipfile.ZipFile(build_bundle(run_dir, tmp_path / "x.zip")) as zf:
        assert "workspace_copy.txt" not in zf.namelist()


def test_missing_or_empty_run_dir(tmp_path):
    with pytest.raises(KylecodeError, match="not a run directory"):
        build_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="nothing to bundle"):
        build_bundle(tmp_path / "empty")
