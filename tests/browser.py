"""A page in the system's headless Chromium, driven by playwright (no browser download), for the
tests of report.html; skips, saying why, where Chromium or playwright is absent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_browser() -> None:
    """Skip before any work when the page could not be opened."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")


@contextmanager
def headless_page(url: str) -> Iterator[Page]:
    """``url`` loaded; leaving the block fails on any script error and on any request that is not
    a ``file://`` one (the page must need nothing from the network)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            yield page
            assert not errors, errors
            assert all(r.startswith("file://") for r in requests), requests
        finally:
            browser.close()
