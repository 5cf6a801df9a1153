"""The HTTP API and dashboard beside the engine: /metrics, /healthz, /readyz, the JSON API.

The API only observes (and offers the kill switch): if its port is taken at start-up the engine
refuses to start when `monitor.api.required` (the default), and otherwise logs, alerts and keeps
trading without it, trying the port again every `monitor.api.retry_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import structlog

from nonstop.api import create_engine_app
from nonstop.api.engine_source import EngineLike
from nonstop.api.server import ApiServer, ApiServerError
from nonstop.errors import ConfigError
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.settings import ApiSettings
from nonstop.supervision.status import Supervision

log = structlog.get_logger("nonstop.engine")


async def start_api(
    stack: contextlib.AsyncExitStack, engine: EngineLike, cfg: ApiSettings, sup: Supervision
) -> ApiServer | None:
    """The server, bound (when required) and served by a task the exit stack cancels; None when
    `monitor.api.enabled` is off."""
    if not cfg.enabled:
        return None
    try:
        app = create_engine_app(engine, token=os.environ.get(cfg.token_env) or None, bind_host=cfg.host)
    except ValueError as err:
        raise ConfigError(f"monitor.api: {err} (token from environment variable {cfg.token_env})") from None
    api = ApiServer(app, cfg.host, cfg.port)
    if cfg.required:  # a taken port stops start-up here (monitor.api.required = false: warn and retry)
        try:
            api.bind()
        except ApiServerError as err:
            raise ConfigError(
                f"{err}: the HTTP API and dashboard cannot start; stop what uses the port, set "
                "monitor.api.port to a free one, or set monitor.api.required = false to trade without it"
            ) from None
    task = asyncio.create_task(_serve_api(api, cfg.retry_s, sup), name="api")

    async def stop_api() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(stop_api)
    return api


async def _serve_api(server: ApiServer, retry_s: float, sup: Supervision) -> None:
    while True:  # only with monitor.api.required = false can the port be taken here
        try:
            server.bind()
            break
        except ApiServerError as err:
            log.warning("api_unavailable", error=str(err), retry_in_s=retry_s)
            sup.alert("api_unavailable", AlertLevel.WARNING, "HTTP API and dashboard unavailable",
                      f"{err}; the engine keeps trading and tries again every {retry_s:g} s")
        await sup.clock.sleep(retry_s)
    sup.clear("api_unavailable", f"listening on {server.url}")
    try:
        await server.serve()
    except (ApiServerError, OSError) as err:
        log.error("api_failed", error=str(err))
        sup.alert("api_unavailable", AlertLevel.WARNING, "HTTP API and dashboard unavailable",
                  f"{err}; the engine keeps trading")
