"""ApiServer: uvicorn in the test's own event loop, on a real loopback socket."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp
import pytest

from nonstop.api import ApiServer, ApiServerError, create_app
from tests.integration.api.apikit import eventually
from tests.unit.api.fakes import TOKEN, FakeControls, FakeSource


def app_with(source: FakeSource) -> object:
    return create_app(source, FakeControls(), token=TOKEN, stream_interval_s=0.05)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_serve_until_stop_then_port_released() -> None:
    source = FakeSource()
    server = ApiServer(app_with(source), "127.0.0.1", 0, grace_s=1.0)  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(server.started.wait(), 5)
    async with aiohttp.ClientSession() as s, s.get(server.url + "/healthz") as resp:
        assert resp.status == 200
    assert source.runs == 1  # the source's background work runs beside the server
    server.stop()
    await asyncio.wait_for(task, 5)
    assert port_free(server.port)


async def test_cancel_ends_open_streams_and_propagates() -> None:
    # a long grace period: a server that waited it out instead of telling its streams to end is told
    # apart by the engine's own threshold, not by a second a loaded machine must beat (before: grace_s=1.0
    # and the end asserted within 1.0 s)
    grace_s = 30.0
    server = ApiServer(app_with(FakeSource()), "127.0.0.1", 0, grace_s=grace_s)  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(server.started.wait(), 5)
    got: list[bytes] = []
    loop = asyncio.get_running_loop()

    async def listen() -> None:
        async with aiohttp.ClientSession() as s, s.get(server.url + "/api/stream") as resp:
            async for line in resp.content:
                got.append(line)

    async with asyncio.TaskGroup() as tg:
        listener = tg.create_task(listen())
        await eventually(lambda: any(line.startswith(b"event: snapshot") for line in got), 5, "a stream event")
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(listener, grace_s)  # the stream ended with the server
    assert loop.time() - started < grace_s  # streams were told to end: no wait for the grace period
    assert port_free(server.port)


async def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ApiServer(app_with(FakeSource()), "127.0.0.1", port)  # type: ignore[arg-type]
        with pytest.raises(ApiServerError, match=f"127.0.0.1:{port}"):
            await server.serve()


async def test_serving_leaves_signal_handlers_alone() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    server = ApiServer(app_with(FakeSource()), "127.0.0.1", 0)  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(server.started.wait(), 5)
    during = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    server.stop()
    await asyncio.wait_for(task, 5)
    assert during == before


async def test_too_many_stream_clients_503() -> None:
    app = create_app(FakeSource(), FakeControls(), token=TOKEN, stream_interval_s=0.05, max_stream_clients=1)
    server = ApiServer(app, "127.0.0.1", 0, grace_s=0.5)
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(server.started.wait(), 5)
        async with aiohttp.ClientSession() as s, s.get(server.url + "/api/stream") as first:
            await first.content.readline()
            async with s.get(server.url + "/api/stream") as second:
                assert second.status == 503
    finally:
        server.stop()
        await asyncio.wait_for(task, 5)
