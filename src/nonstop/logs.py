"""Structured logging: JSON lines in production, readable lines in a terminal; secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from nonstop.config import LogSettings

_SECRET_KEYS = re.compile(r"secret|api_?key|password|token|signature|listen_?key", re.IGNORECASE)


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if _SECRET_KEYS.search(key):
            event[key] = "***"
    return event


def configure(settings: LogSettings, *, stream: Any = None) -> None:
    """Route structlog (and stdlib logging) to `stream` in the configured format and level."""
    level = getattr(logging, settings.level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)  # fields in the order logged
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=stream or sys.stderr)
