"""The HTTP API and web dashboard (M7 endpoints, B5), served by uvicorn inside the engine's loop.

What the engine calls::

    app = create_engine_app(engine, token=os.environ.get("NONSTOP_API_TOKEN"), bind_host="127.0.0.1")
    tg.create_task(serve(app, "127.0.0.1", 8080), name="api")   # stops when cancelled

- `create_app(source, controls, token=..., bind_host=...)` - the FastAPI app over any
  `DashboardSource` and `Controls` (the two ports, in `nonstop.api.ports`).
- `EngineSource` / `EngineControls` / `HaltSwitch` - those ports over an engine.
- `ApiServer` / `serve` - uvicorn in the current event loop, stopped by cancellation or `stop()`.
"""

from __future__ import annotations

from nonstop.api.app import create_app, snapshot
from nonstop.api.auth import MIN_TOKEN_LENGTH, TokenPolicy, is_loopback
from nonstop.api.engine_controls import EngineControls, create_engine_app
from nonstop.api.engine_source import EngineLike, EngineSource, HaltSwitch, known_secrets
from nonstop.api.ports import Controls, DashboardSource
from nonstop.api.server import ApiServer, ApiServerError, serve
from nonstop.api.views import HaltResult, Snapshot

__all__ = [
    "MIN_TOKEN_LENGTH",
    "ApiServer",
    "ApiServerError",
    "Controls",
    "DashboardSource",
    "EngineControls",
    "EngineLike",
    "EngineSource",
    "HaltResult",
    "HaltSwitch",
    "Snapshot",
    "TokenPolicy",
    "create_app",
    "create_engine_app",
    "is_loopback",
    "known_secrets",
    "serve",
    "snapshot",
]
