"""Access rules: the token guards every state change, and everything when not bound to loopback."""

from __future__ import annotations

import httpx
import pytest

from nonstop.api import create_app, is_loopback
from tests.unit.api.fakes import TOKEN, FakeControls, FakeSource

READ_ROUTES = [
    "/healthz", "/readyz", "/metrics", "/openapi.json", "/api/status", "/api/degradation", "/api/venues",
    "/api/orders", "/api/positions", "/api/balances", "/api/fills", "/api/alerts", "/api/series", "/api/snapshot",
]


def client(app: object, host: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}:8080")  # type: ignore[arg-type]


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"])
def test_is_loopback_loopback_hosts_true(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", "127.0.0.1.evil.com"])
def test_is_loopback_other_hosts_false(host: str) -> None:
    assert not is_loopback(host)


async def test_halt_without_token_401_and_controls_untouched() -> None:
    controls = FakeControls()
    async with client(create_app(FakeSource(), controls, token=TOKEN)) as c:
        resp = await c.post("/api/halt", json={"reason": "x"})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert controls.halts == []


@pytest.mark.parametrize("header", ["Bearer wrong-token-0123456789", "Basic " + TOKEN, TOKEN, "Bearer ", "bearer"])
async def test_halt_with_bad_credentials_401(header: str) -> None:
    controls = FakeControls()
    async with client(create_app(FakeSource(), controls, token=TOKEN)) as c:
        resp = await c.post("/api/halt", headers={"Authorization": header})
    assert resp.status_code == 401
    assert controls.halts == []


async def test_halt_with_token_halts_with_reason() -> None:
    controls = FakeControls()
    async with client(create_app(FakeSource(), controls, token=TOKEN)) as c:
        resp = await c.post("/api/halt", json={"reason": "risk limit"}, headers=bearer())
    assert resp.status_code == 200
    assert resp.json()["halted"] is True and resp.json()["canceled"] == ["ns-a1-mm-1"]
    assert controls.halts == ["risk limit"]


async def test_halt_no_token_configured_always_401() -> None:
    controls = FakeControls()
    async with client(create_app(FakeSource(), controls, token=None)) as c:
        resp = await c.post("/api/halt", headers=bearer())
        read = await c.get("/api/status")
    assert resp.status_code == 401 and "no API token is configured" in resp.json()["detail"]
    assert read.status_code == 200  # loopback reads stay open
    assert controls.halts == []


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_create_app_bound_elsewhere_without_token_refused(host: str) -> None:
    with pytest.raises(ValueError, match="needs an access token"):
        create_app(FakeSource(), FakeControls(), token=None, bind_host=host)


def test_create_app_short_token_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="at least 16") as err:
        create_app(FakeSource(), FakeControls(), token="short-secret", bind_host="127.0.0.1")
    assert "short-secret" not in str(err.value)


@pytest.mark.parametrize("path", [*READ_ROUTES, "/api/stream", "/docs"])
async def test_bound_elsewhere_every_route_without_token_401(path: str) -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, bind_host="0.0.0.0")
    async with client(app, "10.0.0.5") as c:
        resp = await c.get(path)
    assert resp.status_code == 401, path


@pytest.mark.parametrize("path", READ_ROUTES)
async def test_bound_elsewhere_every_route_with_token_200(path: str) -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, bind_host="0.0.0.0")
    async with client(app, "10.0.0.5") as c:
        resp = await c.get(path, headers=bearer())
    assert resp.status_code == 200, path


async def test_bound_elsewhere_static_shell_served_without_token() -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, bind_host="0.0.0.0")
    async with client(app, "10.0.0.5") as c:
        page, js = await c.get("/"), await c.get("/static/app.js")
    assert page.status_code == 200 and "nonstop dashboard" in page.text
    assert js.status_code == 200 and "/api/halt" in js.text


@pytest.mark.parametrize("path", ["/api/status", "/", "/metrics"])
async def test_loopback_foreign_host_header_421(path: str) -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, bind_host="127.0.0.1")
    async with client(app, "attacker.example") as c:
        resp = await c.get(path, headers=bearer())
    assert resp.status_code == 421


@pytest.mark.parametrize("host", ["localhost", "[::1]", "127.0.0.1"])
async def test_loopback_local_host_header_served(host: str) -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, bind_host="127.0.0.1")
    async with client(app, host) as c:
        resp = await c.get("/api/status")
    assert resp.status_code == 200
