"""Headless Debian Chromium driven by Playwright (its own browser download does not work here)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

# Playwright's assertions retry for 5 s by default: a time box, widened for a loaded machine (two test
# workers and Chromium on two cores); an assertion that holds returns as soon as it holds
expect.set_options(timeout=15_000)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    if not HAVE_CHROMIUM:
        pytest.fail("Chromium is missing: ./test.sh installs Debian's chromium package")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1500, "height": 1150},
        )
        try:
            p = await context.new_page()
            errors: list[str] = []
            p.on("pageerror", lambda exc: errors.append(str(exc)))
            yield p
            assert errors == [], f"JavaScript errors on the page: {errors}"
        finally:
            await context.close()
