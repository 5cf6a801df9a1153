"""The dashboard in headless Chromium against a real engine on its embedded simulator."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.integration.api.apikit import TOKEN, VENUE, eventually, running_engine_api
from tests.simkit import control, set_fault

pytestmark = pytest.mark.browser


async def test_dashboard_shows_engine_and_follows_a_fault(page: Page, tmp_path: Path) -> None:
    async with running_engine_api(tmp_path) as run:
        engine = run.engine
        await eventually(lambda: bool(engine.state.open_orders()), 30, "open orders")
        await page.goto(run.url + "/")
        await expect(page.locator("#phase")).to_have_text("trading", timeout=20_000)
        await expect(page.locator("#conn")).to_have_text("live")
        await expect(page.locator("#deg-level")).to_have_text("normal")
        await expect(page.locator("#venues tbody")).to_contain_text(VENUE)
        await expect(page.locator("#venues tbody")).to_contain_text("healthy")
        await expect(page.locator("#orders tbody")).to_contain_text("ns-a1-mm-")
        await expect(page.locator("#balances tbody")).to_contain_text("USDT")
        await eventually(lambda: len(engine.state.fills) > 0, 45, "a fill")
        await expect(page.locator("#fills tbody")).to_contain_text("BTC/USDT", timeout=20_000)
        await asyncio.sleep(1.5)  # a few chart points
        ARTIFACTS.mkdir(exist_ok=True)
        await expect(page.locator("#orders tbody")).to_contain_text("ns-a1-mm-", timeout=20_000)
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        assert engine.sim is not None
        await set_fault(engine.sim, "venue_outage", VENUE, duration_s=30)
        # the page follows: endpoints ejected (breakers open), orders table and status still live
        await expect(page.locator("#venues tbody")).to_contain_text("ejected", timeout=20_000)
        await expect(page.locator("#venues tbody")).to_contain_text(re.compile(r"\bopen\b"))
        await expect(page.locator("#conn")).to_have_text("live")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-venue-outage.png"), full_page=True)
        await control(engine.sim, "DELETE", "/control/faults")


async def test_kill_switch_halts_after_confirmation(page: Page, tmp_path: Path) -> None:
    async with running_engine_api(tmp_path) as run:
        engine = run.engine
        await eventually(lambda: len(engine.state.open_orders()) >= 1, 30, "open orders")
        await page.goto(run.url + "/")
        await expect(page.locator("#orders tbody")).to_contain_text("ns-a1-mm-", timeout=20_000)

        # the button only opens a confirmation; "Cancel" halts nothing
        await page.click("#kill")
        await expect(page.locator("#halt-dialog")).to_be_visible()
        await page.click("#halt-cancel")
        await expect(page.locator("#halt-dialog")).to_be_hidden()
        assert engine.halted is None
        # a wrong token is refused and said so; nothing halted
        await page.click("#kill")
        await page.fill("#halt-token", "wrong-token-0123456789")
        await page.click("#halt-confirm")
        await expect(page.locator("#halt-error")).to_contain_text("token rejected")
        assert engine.halted is None, "nothing may be halted before a confirmed, authorised halt"
        await expect(page.locator("#deg-level")).to_have_text("normal")

        # confirmed with the token
        await page.fill("#halt-token", TOKEN)
        await page.fill("#halt-reason", "browser test")
        await eventually(lambda: bool(engine.state.open_orders()), 30, "open orders to cancel")
        open_at_confirm = {o.client_order_id.value for o in engine.state.open_orders()}
        await page.click("#halt-confirm")
        await expect(page.locator("#halt-dialog")).to_be_hidden(timeout=15_000)
        await expect(page.locator("#halt-banner")).to_contain_text("TRADING HALTED", timeout=20_000)
        await expect(page.locator("#deg-level")).to_have_text("halted", timeout=20_000)
        await expect(page.locator("#deg-reason")).to_contain_text("browser test")
        for cid in open_at_confirm:
            assert not engine.state.order(cid).state.is_open, f"{cid} still open after the halt"
        await expect(page.locator("#orders-count")).to_have_text("0", timeout=20_000)
        known = set(engine.state.orders)
        await asyncio.sleep(1.0)  # five strategy intervals: a stopped strategy places nothing
        assert set(engine.state.orders) == known
        await expect(page.locator("#alerts-active")).to_contain_text("CRITICAL")
        assert await page.evaluate("sessionStorage.getItem('nonstop.token')") == TOKEN
        await page.screenshot(path=str(ARTIFACTS / "dashboard-halted.png"), full_page=True)
