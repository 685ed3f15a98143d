import subprocess
import sys
import zipfile

from cli_helpers import small_run_dir

from pytest_kylecode.cli import main


def test_bundle_writes_zip_and_prints_its_path(tmp_path, capsys):
    run_dir = small_run_dir(tmp_path / "runs")
    assert main(["bundle", str(run_dir), "-o", str(tmp_path / "b.zip")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = zf.namelist()
        assert "manifest.json" in names and "errors/turn_1_1.json" in names
        assert all(b"CANARY" not in zf.read(n) for n in names)


def test_bundle_default_path(tmp_path, capsys):
    run_dir = small_run_dir(tmp_path / "runs")
    assert main(["bundle", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir) + ".zip"


def test_bundle_refusal_is_one_line_exit_2(tmp_path):
    run_dir = small_run_dir(tmp_path / "runs")
    (tmp_path / "secret.txt").write_text("private")
    (run_dir / "errors" / "link.json").symlink_to(tmp_path / "secret.txt")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "bundle", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "refusing symlink errors/link.json" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", "bundle", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "not a run directory" in proc.stderr
