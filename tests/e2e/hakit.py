"""Real processes for HA tests: two or more `nonstop run --role auto` nodes on one PostgreSQL journal
and one `nonstop sim`, each node signing with its own API key of the same venue account, so the
simulator's order records name the node that sent each order (`sender`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.crashkit import NONSTOP, EngineRun, SimProcess, control, engine_config, start_engine

NODE_KEYS = {name: (f"ha-key-{name}", f"ha-secret-{name}") for name in ("a", "b", "c")}


def register_nodes(sim: SimProcess) -> None:
    """One key pair per node on the demo account; the venue records the node's name as sender."""
    for name, (key, secret) in NODE_KEYS.items():
        control(sim, "POST", "/control/keys", {"api_key": key, "secret": secret, "label": f"node-{name}"})


def ha_config(workdir: Path, sim: SimProcess, *, schema: str, ttl_s: float = 2.0) -> Path:
    journal = f'backend = "postgres"\ndurability = "group"\nschema_name = "{schema}"'
    config = engine_config(workdir, sim, journal=journal)
    with config.open("a") as f:
        f.write(f'[engine.ha]\nrole = "auto"\nlease_ttl_s = {ttl_s}\npoll_s = 0.5\n')
    return config


def start_node(workdir: Path, config: Path, node: str, n: int, dsn: str, *, alert_hook: str = "") -> EngineRun:
    key, secret = NODE_KEYS[node]
    return start_engine(workdir, config, n, env={
        "NONSTOP_PG_DSN": dsn, "NONSTOP_SIM_API_KEY": key, "NONSTOP_SIM_API_SECRET": secret,
        **({"NONSTOP_TEST_ALERT_HOOK": alert_hook} if alert_hook else {})})


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def is_standby(run: EngineRun) -> bool:
    return '"event": "ha_standby"' in run.log()


def orders_by_sender(sim: SimProcess, *, after_ms: int = 0) -> Counter[str]:
    rows = control(sim, "GET", "/control/venues/binance-a/orders")
    return Counter(r["sender"] for r in rows if r["time"] > after_ms)


def order_times(sim: SimProcess, sender: str) -> list[int]:
    return [r["time"] for r in control(sim, "GET", "/control/venues/binance-a/orders") if r["sender"] == sender]


def api(run: EngineRun, path: str) -> tuple[int, str]:
    """GET `path` from the node's HTTP API (its URL from the log); (status, body)."""
    import urllib.error
    import urllib.request

    url = next(json.loads(line)["url"] for line in run.log().splitlines() if '"api_server_starting"' in line)
    try:
        with urllib.request.urlopen(url + path, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def cli_status(config: Path, dsn: str) -> dict[str, Any]:
    """`nonstop status --json` of the instance, as a separate process."""
    out = subprocess.run([*NONSTOP, "status", "--config", str(config), "--json"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "NONSTOP_PG_DSN": dsn}, check=True)
    return json.loads(out.stdout)


def stop(run: EngineRun, timeout_s: float = 60) -> int:
    """SIGTERM (a clean stop) and wait; the exit code."""
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
    return run.proc.wait(timeout=timeout_s)


class AlertHook:
    """A webhook receiving the nodes' alerts (Apprise `json://`), in its own thread; `posts` holds the bodies."""

    def __init__(self) -> None:
        import http.server

        posts = self.posts = []  # type: list[dict[str, Any]]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server hook name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AlertHook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def titles(self) -> list[str]:
        return [str(p.get("title", "")) + " " + str(p.get("message", "")) for p in list(self.posts)]


def with_alert_hook(config: Path) -> None:
    """Route every alert of the nodes to one channel whose URL `start_node(alert_hook=...)` sets."""
    with config.open("a") as f:
        f.write('[[monitor.alerts.channels]]\nname = "hook"\nurl_env = "NONSTOP_TEST_ALERT_HOOK"\n')


class BlackholeProxy:
    """A TCP proxy (asyncio, in its own thread) to a PostgreSQL server; `blackhole()` stops passing
    bytes in both directions while keeping every connection open, like a network partition."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._dropping = False
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> BlackholeProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def blackhole(self) -> None:
        self._dropping = True

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        sock: socket.socket = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        for w in self._writers:
            w.transport.abort()
        self._server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if not self._dropping:
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
