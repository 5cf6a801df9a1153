"""Access control: a bearer token for anything that changes state, and for everything when the
server is reachable from other machines; a Host check against DNS rebinding on loopback.

- Bound to a loopback address (127.0.0.0/8, ::1, localhost): reads are open to local clients,
  state-changing calls need `Authorization: Bearer <token>`; with no token configured they are
  refused (401), so a kill switch can never be pulled anonymously. Requests must name a loopback
  host in their `Host` header, so a web page on another origin cannot read the API through a
  DNS-rebinding trick (browsers send the attacker's host name there).
- Bound anywhere else: a token is mandatory at start-up, and every route needs it, except the
  static dashboard shell (HTML/JS/CSS: code, no data), which a browser must load before it can
  ask the user for the token.

Tokens are compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, status

MIN_TOKEN_LENGTH = 16
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback IP addresses (IPv4 127/8, IPv6 ::1)."""
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host part of a Host header (`[::1]:8080` -> `::1`, `127.0.0.1:80` -> `127.0.0.1`)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class TokenPolicy:
    """Who may call what; see the module docstring."""

    def __init__(self, token: str | None, bind_host: str) -> None:
        self.local_only = is_loopback(bind_host)
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the API token must be at least {MIN_TOKEN_LENGTH} characters (token not shown)")
        if not self.local_only and not token:
            raise ValueError(
                f"binding the API to {bind_host!r} (not loopback) needs an access token; "
                "bind to 127.0.0.1 or configure a token"
            )
        self._token = token.encode() if token else None

    @property
    def token_configured(self) -> bool:
        return self._token is not None

    def check(self, presented: str | None) -> None:
        """Raise 401 unless `presented` (the bearer credential, or None) is the configured token."""
        if self._token is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "no API token is configured: state-changing calls are disabled",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not presented or not hmac.compare_digest(presented.encode(), self._token):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def check_read(self, presented: str | None) -> None:
        """Reads need the token only when the server is not bound to loopback."""
        if not self.local_only:
            self.check(presented)


class LoopbackHostGuard:
    """ASGI middleware: on a loopback-bound server, refuse requests whose Host is not loopback (421)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not host or not is_loopback(_host_name(host)):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b'{"detail":"requests to this server must name a loopback host"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 421,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
