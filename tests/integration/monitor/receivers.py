"""Real local receivers for alert delivery tests: an SMTP server (aiosmtpd) and a webhook (aiohttp)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    subject: str
    text: str
    raw: bytes


@dataclass
class SmtpSink:
    """aiosmtpd handler keeping every accepted message (parsed); runs on the controller's thread."""

    messages: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.messages.append(Mail(subject=str(msg["subject"]), text=text, raw=raw))
        return "250 OK"

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.messages)


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


class Webhook:
    """An aiohttp app recording JSON posts; answers `fail_with` for the next `failures` posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self.failures = 0
        self.fail_with = 500
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            return web.Response(status=self.fail_with, text="receiver down")
        self.posts.append(payload)
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/alerts", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/alerts"


@asynccontextmanager
async def webhook(*, listening: bool = True) -> AsyncIterator[Webhook]:
    hook = Webhook()
    if listening:
        await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


def mail_url(port: int) -> str:
    """Plain SMTP, no TLS, no login: `mailto://` (not `mailtos://`) means Apprise's insecure mode."""
    return f"mailto://127.0.0.1:{port}?from=nonstop@example.com&to=ops@example.com&cto=2&rto=2"


async def eventually(predicate: Callable[[], bool], *, within: float = 10.0, what: str = "condition") -> None:
    """Poll `predicate` in real time until it holds; fail naming `what` otherwise (a time box, generous:
    a delivery through Apprise on a loaded machine may take seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not reached within {within}s")
        await asyncio.sleep(0.01)
