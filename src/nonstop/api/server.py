"""Serve the app with uvicorn inside the caller's event loop, as one supervised task.

`uvicorn.Server.serve()` is used as a library call: it does not create or configure an event
loop (only `Server.run` would). Three uvicorn behaviours are kept out of an engine process:

- it would install its own SIGINT/SIGTERM handlers (replacing the engine's) - disabled here;
- it would `sys.exit()` when it cannot bind - the socket is bound here first, and a failure is an
  `ApiServerError` naming host and port;
- it would apply its logging config to the process - `log_config=None` leaves logging alone.

Stopping: cancel the task running `serve()` / `ApiServer.serve()` (or call `stop()`, i.e.
`server.should_exit = True`): open live streams are told to end, connections get
`grace_s` to finish, and the cancellation then propagates to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import structlog
import uvicorn
from fastapi import FastAPI

log = structlog.get_logger("nonstop.api.server")


class ApiServerError(RuntimeError):
    """The API server could not start (e.g. the port is taken)."""


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, started: asyncio.Event) -> None:
        super().__init__(config)
        self.started_event = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.started_event.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the engine owns the process's signals
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ApiServerError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.setblocking(False)
    return sock


class ApiServer:
    """One HTTP server for the app: bind, serve until stopped or cancelled, shut down gracefully.

    `port=0` picks a free port; `port` tells which one after `started` is set.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080, *, grace_s: float = 3.0) -> None:
        self.app = app
        self.host = host
        self._port = port
        self.grace_s = grace_s
        self.started = asyncio.Event()
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=grace_s,
        )
        self._server = _Server(config, self.started)
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def bind(self) -> None:
        """Take the port now (ApiServerError naming host and port if it is taken); `serve` then uses it."""
        if self._sock is None:
            self._sock = _bind(self.host, self._port)
            self._port = self._sock.getsockname()[1]

    def stop(self) -> None:
        """Ask the server to stop (`should_exit`); `serve()` returns once it has shut down."""
        self.app.state.stopping.set()
        self._server.should_exit = True

    async def serve(self) -> None:
        """Serve until `stop()` (returns) or cancellation (shuts down, then re-raises).

        Runs the source's background work (`app.state.source.run()`) beside the server.
        """
        self.bind()
        sock, self._sock = self._sock, None
        assert sock is not None
        source = getattr(self.app.state, "source", None)
        try:
            async with asyncio.TaskGroup() as tg:
                server_task = tg.create_task(self._run_server(sock), name="api-http")
                if source is not None:
                    sampler = tg.create_task(source.run(), name="api-source")
                    server_task.add_done_callback(lambda _t: sampler.cancel())
        finally:
            sock.close()

    async def _run_server(self, sock: socket.socket) -> None:
        task = asyncio.create_task(self._server.serve(sockets=[sock]), name="api-uvicorn")
        log.info("api_server_starting", url=self.url)
        try:
            await asyncio.shield(task)
        finally:
            if not task.done():  # cancelled from outside: shut down gracefully first
                self.stop()
                try:
                    await asyncio.wait([task], timeout=self.grace_s + 1.0)
                finally:
                    if not task.done():
                        self._server.force_exit = True
                        task.cancel()
                        await asyncio.wait([task])
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("api_server_failed", error=repr(task.exception()))
            log.info("api_server_stopped", url=self.url)


async def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve `app` on host:port in the current event loop until cancelled (see `ApiServer`)."""
    await ApiServer(app, host, port).serve()
