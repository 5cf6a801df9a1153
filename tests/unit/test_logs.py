"""Structured logs: JSON or console, and secrets never written (invariant 9)."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from nonstop import logs
from nonstop.config import LogSettings


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    structlog.reset_defaults()  # the other tests keep structlog's and logging's defaults
    if logs._STDLIB_HANDLER is not None:
        root.removeHandler(logs._STDLIB_HANDLER)
        logs._STDLIB_HANDLER = None
    root.setLevel(level)


def test_json_logs_redact_secret_fields_and_keep_the_rest() -> None:
    out = io.StringIO()
    logs.configure(LogSettings(level="info", format="json"), stream=out)
    structlog.get_logger("t").warning("placed", api_key="AKIA-visible-key", secret="s3cr3t", signature="abcd",
                                      listen_key="lk", venue="binance-a", qty="0.001")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "placed" and line["venue"] == "binance-a" and line["qty"] == "0.001"
    assert {line[k] for k in ("api_key", "secret", "signature", "listen_key")} == {"***"}
    assert "s3cr3t" not in out.getvalue() and "AKIA-visible-key" not in out.getvalue()
    assert line["level"] == "warning" and line["timestamp"].endswith("Z")


def test_level_filters_and_console_format_is_readable() -> None:
    out = io.StringIO()
    logs.configure(LogSettings(level="warning", format="console"), stream=out)
    log = structlog.get_logger("t")
    log.info("hidden")
    log.error("shown", token="t0k3n")
    text = out.getvalue()
    assert "hidden" not in text and "shown" in text and "t0k3n" not in text


async def test_loop_errors_are_logged_as_one_json_line_and_the_old_handler_comes_back() -> None:
    out = io.StringIO()
    logs.configure(LogSettings(level="info", format="json"), stream=out)
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    with logs.loop_errors_logged(loop):
        fut = loop.create_future()
        fut.set_exception(ConnectionResetError("websocket reconnect refused"))
        del fut  # never awaited: asyncio reports it when the future is collected
        gc.collect()
    assert loop.get_exception_handler() is before
    lines = out.getvalue().strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    (record,) = [r for r in records if r["event"] == "asyncio_error"]
    assert "never retrieved" in record["detail"] and "ConnectionResetError" in record["error"]
    assert "Traceback" in record["exception"] or "ConnectionResetError" in record["exception"]


def test_stdlib_logging_is_json_too() -> None:
    out = io.StringIO()
    logs.configure(LogSettings(level="info", format="json"), stream=out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    (line,) = out.getvalue().strip().splitlines()
    record = json.loads(line)
    assert record["event"] == "Error handling request" and record["level"] == "error"
    assert record["logger"] == "aiohttp.server" and "ValueError: boom" in record["exception"]
