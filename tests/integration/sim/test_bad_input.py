"""Bad input to the simulator gets Binance's error shape (`{"code", "msg"}`), never a 500 traceback."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import aiohttp
import pytest

from nonstop.sim.server import SimServer


def _signed(sim: SimServer, query: str) -> str:
    full = f"{query}&timestamp={int(time.time() * 1000)}"
    sig = hmac.new(sim.credentials.secret.encode(), full.encode(), hashlib.sha256).hexdigest()
    return f"{full}&signature={sig}"


async def _call(
    sim: SimServer, method: str, path: str, *, query: str = "", body: str | bytes | None = None, signed: bool = False
) -> tuple[int, Any]:
    base = sim.venues["alpha"].urls[0]
    headers = {"X-MBX-APIKEY": sim.credentials.api_key, "Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        if body is not None:
            body = _signed(sim, str(body))
        else:
            query = _signed(sim, query)
    url = f"{base}{path}" + (f"?{query}" if query else "")
    async with aiohttp.ClientSession() as session, session.request(method, url, data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "code"),
    [
        ("GET", "/api/v3/depth", "symbol=NOPEUSDT", None, -1121),
        ("GET", "/api/v3/depth", "", None, -1102),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=abc", None, -1100),
        ("GET", "/api/v3/klines", "symbol=BTCUSDT&interval=7m", None, -1120),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&symbol=ETHUSDT", None, -1101),
        ("POST", "/api/v3/order", "", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=abc&price=1", -1100),
        ("POST", "/api/v3/order", "", "symbol=BTCUSDT&side=UP&type=LIMIT&quantity=1&price=1", -1117),
        ("POST", "/api/v3/order", "", "symbol=BTCUSDT&side=BUY&type=STOP&quantity=1&price=1", -1116),
        ("POST", "/api/v3/order", "", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=XX&quantity=1&price=1", -1115),
        ("POST", "/api/v3/order", "", "symbol=BTCUSDT&side=BUY&type=MARKET", -1102),
        (
            "POST",
            "/api/v3/order",
            "",
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&newClientOrderId=bad%20id!",
            -1100,
        ),
        (
            "POST",
            "/api/v3/order",
            "",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=1.001",
            -1013,
        ),
        ("GET", "/api/v3/order", "symbol=BTCUSDT", None, -1102),
        ("GET", "/api/v3/order", "symbol=BTCUSDT&orderId=12x", None, -1100),
    ],
)
async def test_malformed_params_get_binance_error_codes(
    sim: SimServer, method: str, path: str, query: str, body: str | None, code: int
) -> None:
    signed = path in ("/api/v3/order",)
    status, data = await _call(sim, method, path, query=query, body=body, signed=signed)
    assert status == 400
    assert data["code"] == code and isinstance(data["msg"], str) and data["msg"]


async def test_bad_signature_and_missing_key_and_missing_timestamp(sim: SimServer) -> None:
    status, data = await _call(sim, "GET", "/api/v3/account", query="timestamp=1&signature=deadbeef")
    assert (status, data["code"]) == (400, -1022)
    base = sim.venues["alpha"].urls[0]
    async with aiohttp.ClientSession() as session, session.get(base + "/api/v3/account") as resp:
        assert resp.status == 401 and (await resp.json())["code"] == -2014
    query = "recvWindow=5000"
    sig = hmac.new(sim.credentials.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    status, data = await _call(sim, "GET", "/api/v3/account", query=f"{query}&signature={sig}")
    assert (status, data["code"]) == (400, -1102) and "timestamp" in data["msg"]


async def test_oversized_body_is_refused_in_binance_shape(sim: SimServer) -> None:
    status, data = await _call(sim, "POST", "/api/v3/order", body="symbol=BTCUSDT&pad=" + "x" * 100_000)
    assert status == 413 and data["code"] == -1000 and "too large" in data["msg"]


async def test_unknown_path_is_a_json_404(sim: SimServer) -> None:
    status, data = await _call(sim, "GET", "/api/v3/nothingHere")
    assert status == 404 and data["code"] == -1000


async def test_garbage_on_websockets_gets_an_error_message_not_a_crash(sim: SimServer) -> None:
    ws_base = sim.venues["alpha"].urls[0].replace("http", "ws")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_base + "/ws") as ws:
            await ws.send_str("{not json")
            assert "error" in await ws.receive_json(timeout=5)
            await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 3})
            assert await ws.receive_json(timeout=5) == {"result": None, "id": 3}
        async with session.ws_connect(ws_base + "/ws-api/v3") as ws:
            await ws.send_str("[]")
            assert (await ws.receive_json(timeout=5))["status"] == 400
            await ws.send_json(
                {
                    "id": "9",
                    "method": "userDataStream.subscribe.signature",
                    "params": {"apiKey": sim.credentials.api_key, "timestamp": 1, "signature": "00"},
                }
            )
            reply = await ws.receive_json(timeout=5)
            assert reply["id"] == "9" and reply["error"]["code"] == -1022
