"""The dashboard's trader panels in headless Chromium, against a real engine on its embedded simulator
with a data-only venue: the price panel (consensus mid, sources, our orders and fills), strategy PnL,
the data venue with its feed, and, during a venue outage, an honest "connected", a phase consistent
with the level and no raw HTML anywhere on the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from nonstop.config import SimSettings, SimVenue
from tests.browser.conftest import ARTIFACTS
from tests.integration.api.apikit import VENUE, engine_settings, eventually, running_engine_api
from tests.simkit import control, set_fault

pytestmark = pytest.mark.browser
DATA_VENUE = "binance-b"
RAW_HTML = re.compile(r"<\s*/?\s*(html|body|h1|head|title)\b", re.IGNORECASE)


def _settings(tmp_path: Path):  # two simulated venues: the second feeds the consensus only
    base = engine_settings(tmp_path)
    sim = SimSettings(control_port=0, tick_ms=50,
                      venues=[SimVenue(name=VENUE, ports=[0, 0]), SimVenue(name=DATA_VENUE, ports=[0])])
    return base.model_copy(update={"sim": sim})


async def _venue_row(page: Page, name: str) -> list[str]:
    rows = await page.locator("#venues tbody tr").all_inner_texts()
    for text in rows:
        cells = text.split("\t")
        if cells and cells[0].strip().startswith(name):
            return [c.strip() for c in cells]
    raise AssertionError(f"no row for {name} in {rows}")


async def test_price_pnl_data_venue_and_an_honest_outage(page: Page, tmp_path: Path) -> None:
    async with running_engine_api(tmp_path, settings=_settings(tmp_path)) as run:
        engine = run.engine
        await eventually(lambda: bool(engine.state.open_orders()), 30, "open orders")
        await page.goto(run.url + "/")
        await expect(page.locator("#price-mid")).to_contain_text(re.compile(r"mid \d"), timeout=20_000)
        await expect(page.locator("#price-symbol")).to_have_text("BTC/USDT")
        await expect(page.locator("#price-orders")).to_contain_text(re.compile(r"(buy|sell) [\d.]+ @ \d"))
        await expect(page.locator("#price-chart")).to_have_attribute("data-orders", re.compile(r"^[1-9]"))
        await expect(page.locator("#price-sources tbody")).to_contain_text(VENUE)
        await expect(page.locator("#price-sources tbody")).to_contain_text(DATA_VENUE)
        await expect(page.locator("#pnl-now")).to_contain_text(re.compile(r"mm -?\d+\.\d\d USDT"))
        await expect(page.locator("#pnl-chart")).to_be_visible()
        data_row = await _venue_row(page, DATA_VENUE)
        assert data_row[1] == "data" and data_row[2].startswith("ok"), data_row
        await eventually(lambda: len(engine.state.fills) > 0, 45, "a fill")
        await expect(page.locator("#price-chart")).to_have_attribute("data-fills", re.compile(r"^[1-9]"),
                                                                      timeout=20_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-price-pnl.png"), full_page=True)

        assert engine.sim is not None
        await set_fault(engine.sim, "venue_outage", VENUE, duration_s=30)  # every endpoint answers an HTML 503
        await expect(page.locator("#venues tbody")).to_contain_text("ejected", timeout=20_000)
        await expect(page.locator("#venues tbody tr").first).to_contain_text("\tno\t", timeout=20_000)
        assert (await _venue_row(page, VENUE))[4] == "no"
        await expect(page.locator("#alerts-active")).to_contain_text("CRITICAL", timeout=20_000)
        text = await page.locator("body").inner_text()
        raw = RAW_HTML.search(text)
        assert raw is None, f"raw HTML shown on the page: {text[max(0, raw.start() - 200):raw.end() + 100]!r}"
        phase = (await page.locator("#phase").inner_text()).strip()
        if await page.locator("#halt-banner").is_visible():
            assert phase != "trading", "phase says trading beside a HALTED banner"
        level = (await page.locator("#deg-level").inner_text()).strip()
        assert not (level == "halted" and phase == "trading")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-outage-honest.png"), full_page=True)
        await control(engine.sim, "DELETE", "/control/faults")
