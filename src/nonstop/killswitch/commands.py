"""`nonstop halt` and `nonstop resume`: through the running engine's API (`monitor.api`, bearer token
from the environment variable `monitor.api.token_env`), or, when nothing answers on that address,
straight into the instance's journal, so the engine starts halted (or not) next time.

"Nothing answers" means the connection is refused: an engine that answers with an error (a wrong
token, say) is running, and its journal is never written behind its back. The offline write claims
the journal as an engine start does, so a live engine whose API is off or unreachable still holds it:
the command then refuses (`JournalHeld`) and writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from nonstop.clock import LiveClock
from nonstop.config import Settings
from nonstop.errors import JournalHeld, NonstopError
from nonstop.killswitch.journal import record_offline
from nonstop.model import EngineState

REQUEST_TIMEOUT_S = 120.0  # a halt with --flatten waits for the flatten orders


class KillSwitchError(NonstopError):
    """The halt or resume could not be delivered (said why)."""


class EngineNotRunning(KillSwitchError):
    """Nothing listens on the engine's API address."""


@dataclass
class Outcome:
    via: str  # "api" | "journal"
    data: dict[str, Any]
    ok: bool  # False: asked to flatten and positions are left (or the engine could not flatten)


def _base_url(settings: Settings) -> str:
    api = settings.monitor.api
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{api.port}"


async def call_engine(settings: Settings, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body` to the running engine's API; EngineNotRunning if nothing listens there."""
    api = settings.monitor.api
    if not api.enabled:
        raise EngineNotRunning("monitor.api is disabled in the config")
    token = os.environ.get(api.token_env)
    url = _base_url(settings) + path
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    try:  # without a token still asked: a refused connection means "not running" (the journal path needs none)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"} if token else {}) as resp:
            data = await resp.json(content_type=None)
            if resp.status in (401, 403) and not token:
                raise KillSwitchError(f"the engine at {url} runs and needs its API token: the environment "
                                      f"variable {api.token_env} (monitor.api.token_env) holds none")
            if resp.status >= 400:
                detail = data.get("detail", data) if isinstance(data, dict) else data
                raise KillSwitchError(f"the engine at {url} answered {resp.status}: {detail}")
            return data
    except aiohttp.ClientConnectorError as err:
        raise EngineNotRunning(f"nothing answers at {url}: {err.os_error}") from None
    except (aiohttp.ClientError, TimeoutError) as err:
        raise KillSwitchError(f"the engine at {url} did not answer: {err!r}") from None


async def halt(settings: Settings, reason: str, *, flatten: bool) -> Outcome:
    try:
        data = await call_engine(settings, "/api/halt", {"reason": reason, "flatten": flatten})
        return Outcome("api", data, ok=not flatten or bool(data.get("flattened")))
    except EngineNotRunning as err:
        state = await _offline(err, settings, halt=reason)
        left = {k: str(v) for k, v in state.positions.items() if v != Decimal(0)}
        detail = f"{err}: halted in the journal; the engine starts halted"
        if flatten:
            detail += "; --flatten needs the running engine: positions are left as they are"
        return Outcome("journal", {"halted": True, "reason": reason, "detail": detail, "left": left},
                       ok=not flatten or not left)


async def resume(settings: Settings, reason: str) -> Outcome:
    try:
        return Outcome("api", await call_engine(settings, "/api/resume", {"reason": reason}), ok=True)
    except EngineNotRunning as err:
        state = await _offline(err, settings, resume=reason)
        return Outcome("journal", {"resumed": state.halt is None,
                                   "detail": f"{err}: resumed in the journal; the engine starts trading"}, ok=True)


async def _offline(why: EngineNotRunning, settings: Settings, **change: str) -> EngineState:
    try:
        return await record_offline(settings, LiveClock(), **change)
    except JournalHeld as err:
        raise KillSwitchError(f"{why}, but a live engine holds the journal ({err}): nothing written; "
                              "reach its API (monitor.api) or stop it first") from None
