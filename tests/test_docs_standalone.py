"""The repository stands alone: no file refers to documents that live outside it.

The design the code follows is ``docs/design.md``; a reference to a contract or a shared
directory elsewhere on some machine (a design or wire-format document beside the checkout, a
``../`` path out of the repository) is a dead link for everyone who clones the repository.
The one exception is ``tests/shared_dir.py``, which locates the optional real-world recordings
(a test fixture directory, looked up, never cited).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(
    "|".join(
        [
            r"\bDESIGN" + r"\.md",
            r"\bDESIGN (?:section|§)",
            "WIRE" + "FORMATS",
            r"\.\./" + "shared",
            r"(?<![\w-])" + "shared/",
        ]
    )
)
# shared_dir.py looks the recordings up; this file spells the patterns it looks for.
EXEMPT = {"tests/shared_dir.py", "tests/test_docs_standalone.py"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".json", ".html", ".j2", ".txt", ".cfg", ".ini", ""}


def _files() -> list[Path]:
    """The repository's files: git's list when this is a checkout, else every file under the root."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        paths = [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "node_modules", "__pycache__"}
        paths = [p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]
    return sorted(p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES)


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    found = []
    for path in _files():
        relative = path.relative_to(ROOT).as_posix()
        if relative in EXEMPT:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary fixture (a corrupt-input case) is no document
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:120]}")
    assert found == [], "references to files outside the repository (cite docs/design.md instead):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    ["see ../" + "shared/realworld", "(DESIGN" + ".md section 6)", "WIRE" + "FORMATS §1", "the DESIGN" + " section 5"],
)
def test_the_pattern_catches_each_kind_of_reference(line: str) -> None:
    assert OUTSIDE.search(line)


def test_the_design_document_exists() -> None:
    assert (ROOT / "docs" / "design.md").is_file()
