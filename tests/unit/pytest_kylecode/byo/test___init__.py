"""The public surface of ``pytest_kylecode.byo``: what docs/byo-agent.md tells users to import."""

from __future__ import annotations


def test_the_public_surface_is_what_the_docs_promise() -> None:
    import pytest_kylecode.byo as byo

    assert byo.__all__ == ["AgentReport", "CellContext"]
    docs = (__import__("pathlib").Path(__file__).resolve().parents[4] / "docs" / "byo-agent.md").read_text()
    assert "from pytest_kylecode.byo import AgentReport, CellContext" in docs
