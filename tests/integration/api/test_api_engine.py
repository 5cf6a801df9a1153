"""The API over real HTTP on 127.0.0.1 against a real engine trading on its embedded simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from nonstop.model import InstrumentId
from tests.integration.api.apikit import TOKEN, VENUE, eventually, running_engine_api

BTC = InstrumentId(VENUE, "BTC/USDT")
GET_ROUTES = [
    "/healthz", "/readyz", "/metrics", "/openapi.json", "/api/status", "/api/degradation", "/api/venues",
    "/api/orders", "/api/positions", "/api/balances", "/api/fills", "/api/alerts", "/api/series", "/api/snapshot",
    "/", "/static/app.js",
]


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as resp:
        assert resp.status == 200, (url, resp.status)
        return await resp.json()


async def poll_json(session: aiohttp.ClientSession, url: str, ok: Callable[[Any], bool], within: float = 30) -> Any:
    """GET `url` until `ok(body)`; the last body otherwise fails the test."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        body = await get_json(session, url)
        if ok(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} never satisfied the condition; last: {body}")
        await asyncio.sleep(0.05)


async def read_events(session: aiohttp.ClientSession, url: str, n: int) -> list[dict]:
    events: list[dict] = []
    async with asyncio.timeout(15), session.get(url + "/api/stream") as resp:
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")
        event = None
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "snapshot":
                events.append(json.loads(line[6:]))
                if len(events) >= n:
                    break
    return events


async def test_api_shows_the_trading_engine(tmp_path: Path) -> None:
    async with running_engine_api(tmp_path) as run, aiohttp.ClientSession() as s:
        engine = run.engine
        await eventually(lambda: bool(engine.state and engine.state.open_orders()), 30, "open orders")
        venues = await get_json(s, run.url + "/api/venues")
        assert [v["name"] for v in venues] == [VENUE]
        assert venues[0]["connected"] is True and venues[0]["breaker"] == "closed"
        assert len(venues[0]["endpoints"]) == 2
        assert all(e["url"].startswith("http://127.0.0.1:") for e in venues[0]["endpoints"])
        assert any(e["latency_ms"] is not None and e["latency_ms"] > 0 for e in venues[0]["endpoints"])
        status = await get_json(s, run.url + "/api/status")
        assert status["phase"] == "trading" and status["reconciled"] is True
        orders = await poll_json(s, run.url + "/api/orders", bool)  # the quoter's book is empty at moments
        assert {o["client_order_id"] for o in orders} <= set(engine.state.orders)
        assert all(o["venue"] == VENUE and o["instrument"] == "BTC/USDT" for o in orders)
        assert (await get_json(s, run.url + "/api/degradation"))["level"] == "normal"
        async with s.get(run.url + "/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["ready"] is True
        async with s.get(run.url + "/metrics") as resp:
            text = await resp.text()
            assert resp.status == 200 and "# TYPE nonstop_order_roundtrip_seconds histogram" in text
        await eventually(lambda: len(run.engine.state.fills) > 0, 45, "a fill")
        for _ in range(100):  # the API follows (bounded; was a 0.5 s sleep, short on a loaded machine)
            fills = await get_json(s, run.url + "/api/fills")
            series = await get_json(s, run.url + "/api/series")
            if fills and series["latency"] and len(series["latency"][0]["points"]) >= 2:
                break
            await asyncio.sleep(0.1)
        assert fills and fills[0]["venue"] == VENUE
        assert series["latency"] and len(series["latency"][0]["points"]) >= 2


async def test_stream_sends_fresh_snapshots(tmp_path: Path) -> None:
    async with running_engine_api(tmp_path) as run, aiohttp.ClientSession() as s:
        events = await read_events(s, run.url, 3)
    assert len(events) == 3
    ats = [e["at"] for e in events]
    assert ats == sorted(ats) and len(set(ats)) == 3
    assert events[-1]["status"]["phase"] == "trading" and events[-1]["venues"][0]["name"] == VENUE


async def test_halt_needs_token_then_cancels_every_open_order(tmp_path: Path) -> None:
    async with running_engine_api(tmp_path) as run, aiohttp.ClientSession() as s:
        engine = run.engine
        await eventually(lambda: len(engine.state.open_orders()) >= 1, 30, "open orders")
        async with s.post(run.url + "/api/halt", json={"reason": "no token"}) as resp:
            assert resp.status == 401
        assert engine.halted is None, "a refused halt must not halt anything"
        await eventually(lambda: len(engine.state.open_orders()) >= 1, 30, "open orders")
        before = {o.client_order_id.value for o in engine.state.open_orders()}
        async with s.post(run.url + "/api/halt", json={"reason": "integration"},
                          headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 200
            result = await resp.json()
        assert result["halted"] is True and set(result["canceled"]) | set(result["pending"]) >= before
        for cid in before:  # canceled in our state ...
            await eventually(lambda c=cid: not engine.state.order(c).state.is_open, 10, f"{cid} canceled")
        on_venue = {r.client_order_id for r in await engine.venues[VENUE].open_orders(BTC)}
        assert not (before & on_venue)  # ... and on the venue
        degradation = await get_json(s, run.url + "/api/degradation")
        assert degradation["level"] == "halted" and "integration" in degradation["reason"]
        async with s.get(run.url + "/readyz") as resp:
            assert resp.status == 503


async def test_halt_stops_the_strategy(tmp_path: Path) -> None:
    async with running_engine_api(tmp_path, interval_s=0.1) as run, aiohttp.ClientSession() as s:
        engine = run.engine
        await eventually(lambda: len(engine.state.open_orders()) >= 1, 30, "open orders")
        async with s.post(run.url + "/api/halt", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["strategy_stopped"] is True
        known = set(engine.state.orders)
        await asyncio.sleep(1.5)  # 15 strategy intervals
        assert set(engine.state.orders) == known, "the strategy placed orders after the halt"


async def test_secrets_never_in_any_response(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 9: a fake API key pair in the engine's credentials (the simulator account uses it too,
    so every signed request carries it) appears in no response body, stream event or metric."""
    key = "fAkEaPiKeY" + "0123456789abcdefABCDEF" * 2 + "zz" * 5  # 64 characters, like Binance's
    secret = "fAkEsEcReT" + "9876543210ZYXWVUzyxwvu" * 2 + "qq" * 5
    monkeypatch.setenv("NONSTOP_SIM_API_KEY", key)
    monkeypatch.setenv("NONSTOP_SIM_API_SECRET", secret)
    async with running_engine_api(tmp_path) as run, aiohttp.ClientSession() as s:
        await eventually(lambda: bool(run.engine.state.orders), 30, "orders (signed with the fake key)")
        bodies: dict[str, str] = {}
        for path in GET_ROUTES:
            async with s.get(run.url + path) as resp:
                assert resp.status in (200, 503), path
                bodies[path] = await resp.text()
        async with s.get(run.url + "/api/fills?limit=1000") as resp:
            bodies["fills-1000"] = await resp.text()
        bodies["stream"] = json.dumps(await read_events(s, run.url, 2))
        async with s.post(run.url + "/api/halt", headers={"Authorization": f"Bearer {TOKEN}"},
                          json={"reason": f"leak test {key}"}) as resp:
            bodies["halt"] = await resp.text()
    assert len(bodies["/api/snapshot"]) > 500  # the check looked at real content
    leaks = [p for p, text in bodies.items() for s_ in (key, secret, key[:32], secret[:32]) if s_ in text]
    assert leaks == []
    assert "leak test ***" in bodies["halt"]
