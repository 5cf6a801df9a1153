"""Structured logs: JSON or console, and secrets never written (invariant 9)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from nonstop import logs
from nonstop.config import LogSettings


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()  # the other tests keep structlog's defaults


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
