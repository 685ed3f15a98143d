"""``pytest_kylecode.byo.frameworks`` costs nothing until an adapter is named: no framework is imported."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("agents", "pydantic_ai", "langchain_openai", "langchain_anthropic", "langgraph", "litellm", "smolagents")


def test_importing_the_package_imports_no_framework() -> None:
    probe = (
        "import sys, pytest_kylecode.byo.frameworks, pytest_kylecode.byo.frameworks.history\n"
        f"print(sorted(name for name in {FRAMEWORKS!r} if name in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
