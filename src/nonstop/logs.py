"""Structured logging: JSON lines in production, readable lines in a terminal; secrets redacted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import structlog
from pydantic import Field

from nonstop.config_section import Section

_SECRET_KEYS = re.compile(r"secret|api_?key|password|token|signature|listen_?key", re.IGNORECASE)


class LogSettings(Section):
    """`[log]`: how much is logged, and as what."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"
    summary_every_s: Annotated[float, Field(ge=1, le=86_400)] = 30.0  # the console's periodic summary line


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if _SECRET_KEYS.search(key):
            event[key] = "***"
    return event


_STDLIB_HANDLER: logging.Handler | None = None  # the root handler `configure` installed (replaced on reconfigure)


def configure(settings: LogSettings, *, stream: Any = None) -> None:
    """Route structlog and stdlib logging (aiohttp, asyncio, ccxt, ...) to `stream`, in the configured
    format and level: with `format = "json"` every line is a JSON object, tracebacks included (as
    the `exception` field)."""
    level = getattr(logging, settings.level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)  # fields in the order logged
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    global _STDLIB_HANDLER
    root = logging.getLogger()
    if _STDLIB_HANDLER is not None:
        root.removeHandler(_STDLIB_HANDLER)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    _STDLIB_HANDLER = handler


@contextlib.contextmanager
def loop_errors_logged(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """While inside: what asyncio reports on `loop` (an unretrieved task or future exception, an
    unclosed transport) is logged as one structured `asyncio_error` line, traceback as a field,
    instead of asyncio's plain multi-line text. The previous handler is restored on exit."""
    previous = loop.get_exception_handler()
    loop.set_exception_handler(_log_loop_error)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    err = context.get("exception")
    where = context.get("future") or context.get("task") or context.get("handle") or context.get("transport")
    fields: dict[str, Any] = {"detail": str(context.get("message") or "")}
    if where is not None:
        fields["source"] = repr(where)[:300]
    if isinstance(err, BaseException):
        fields["error"] = f"{type(err).__name__}: {err}"[:500]
        fields["exc_info"] = err
    structlog.get_logger("nonstop.asyncio").error("asyncio_error", **fields)
