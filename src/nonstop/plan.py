"""`nonstop plan`: what a configuration would do, and send where, read before anything starts.

A user about to point the engine at a real venue wants to read, not guess: which hosts each venue's
REST calls, market streams and user stream go to, which environment variables its keys come from
(set or not; never a value), which venues only feed market data (and get no key), where the journal
is, whether the embedded simulator would start, the strategy, the risk limits, where the API
listens and which alert channels are configured (the scheme of their URL only: an Apprise URL
carries its token). Everything comes from the same functions the engine uses (`profile_for`,
`missing_credentials`, `journal_name`, `data_venues_in_use`), so the plan cannot drift from what
`nonstop run` does. It connects nowhere, opens no journal and sends nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from nonstop.config import EngineVenue, Settings
from nonstop.errors import NonstopError
from nonstop.journal import replay
from nonstop.journal_setup import journal_name, journal_path, open_journal
from nonstop.model.instrument import USD_LIKE
from nonstop.risk.settings import RiskSettings
from nonstop.status_figures import running
from nonstop.venues.factory import profile_for
from nonstop.venues.identity import AccountMismatch, refuse_mixed_markets
from nonstop.venues.profile import is_loopback

FREE_PORT = "<a free port>"
AMOUNTS = ("max_order_notional", "max_position_notional", "max_total_position_notional", "daily_loss_limit")
_PORT_ZERO = ":0"  # the embedded simulator picks the port at start


def _embedded_urls(settings: Settings) -> dict[str, list[str]]:
    """The embedded simulator's venue URLs as they will be (a port of 0 is picked at start)."""
    if not settings.engine.runs_embedded_sim:
        return {}
    host = settings.sim.host
    urls = {v.name: [f"http://{host}:{p}" for p in v.ports] for v in settings.sim.venues}
    for v in settings.engine.venues:
        if v.is_paper:  # the paper venue is a venue of the embedded simulator, on a port picked at start
            urls.setdefault(v.name, [f"http://{host}:0"])
    return urls


def _shown(url: str) -> str:
    head, sep, tail = url.partition(_PORT_ZERO)
    return f"{head}:{FREE_PORT}{tail}" if sep and (not tail or tail.startswith("/")) else url


def _keys(cfg: EngineVenue, *, trading: bool, environ: Mapping[str, str]) -> dict[str, Any]:
    if not trading and not cfg.is_sim:
        return {"sent": False, "why": "market data only: a real venue's public data needs no key"}
    if cfg.is_sim or cfg.is_paper:
        return {"sent": True, "env": cfg.credentials_env, "why": "the simulator's demo pair, loopback only"}
    names = [cfg.credentials_env + s for s in ("_API_KEY", "_API_SECRET")]
    if cfg.exchange == "okx":
        names.append(cfg.credentials_env + "_API_PASSPHRASE")
    return {"sent": True, "env": cfg.credentials_env, "set": {n: bool(environ.get(n)) for n in names}}


def _venue(cfg: EngineVenue, sim: Mapping[str, list[str]], *, trading: bool,
           environ: Mapping[str, str]) -> dict[str, Any]:
    profile = profile_for(cfg, sim)
    return {
        "name": cfg.name,
        "role": "trading (orders, user stream, market data)" if trading else "market data only (no orders)",
        "exchange": profile.exchange,
        "network": cfg.network,
        "endpoints": [{"name": e.name, "rest": _shown(e.rest), "market_ws": _shown(e.market_ws),
                       **({"user_ws": _shown(e.user_ws)} if trading else {})} for e in profile.endpoints],
        "hosts": profile.hosts,
        "loopback_only": profile.loopback_only,
        "keys": _keys(cfg, trading=trading, environ=environ),
        **({"paper_source": f"{cfg.exchange} {cfg.paper.source} public data, read with no key"}
           if cfg.is_paper and cfg.paper is not None else {}),
    }


def _scheme(url: str | None) -> str | None:
    return None if not url else (url.split("://", 1)[0] + "://" if "://" in url else "(not a URL)")


def build_plan(settings: Settings, source: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The plan as a JSON-ready document (see the module docstring)."""
    env = os.environ if environ is None else environ
    eng = settings.engine
    sim = _embedded_urls(settings)
    strategy = eng.strategy
    api = settings.monitor.api
    own = settings.risk.limits_for(strategy.id)
    quote = strategy.symbol.split("/", 1)[1]
    limits: dict[str, Any] = {"enabled": settings.risk.enabled,
                              **own.model_dump(mode="json", exclude_none=True, exclude={"daily_loss_limits"})}
    loss = own.daily_loss_limit_in(quote)
    limits["daily_loss_limit"] = loss
    for key in AMOUNTS:  # amounts are read in the symbol's quote currency: say which
        if limits.get(key) is not None:
            limits[key] = f"{limits[key]} {quote}"
    checks = []
    defaults = RiskSettings()
    if quote not in USD_LIKE and any(
        getattr(own, k) is not None and getattr(own, k) == getattr(defaults, k) for k in AMOUNTS
    ):  # an amount left at its USDT-sized default
        checks.append(f"risk amounts are read in {quote} (the quote of {strategy.symbol}) and [risk] is sized for "
                      f"USDT: set [risk.strategies.{strategy.id}] limits in {quote}")
    not_ready = list(eng.missing_credentials(env))
    if eng.journal.backend == "postgres" and not env.get(eng.journal.dsn_env):
        not_ready.append(f"{eng.journal.dsn_env} (the PostgreSQL journal's DSN)")
    if api.enabled and not is_loopback(api.host) and not env.get(api.token_env):
        not_ready.append(f"{api.token_env} (the API listens on {api.host}, beyond loopback: a token is mandatory)")
    return {
        "config": source,
        "instance": eng.instance,
        "market": sorted({v.market for v in eng.venues}),
        "embedded_simulator": ({"starts": True, "venues": {n: [_shown(u) for u in us] for n, us in sim.items()}}
                               if eng.runs_embedded_sim else {"starts": False}),
        "venues": [_venue(v, sim, trading=True, environ=env) for v in eng.venues],
        "data_venues": [_venue(v, sim, trading=False, environ=env) for v in settings.data_venues_in_use()],
        "not_ready": not_ready,
        "check": checks,
        "journal": {"where": journal_name(settings), "backend": eng.journal.backend,
                    **({"dsn_env": eng.journal.dsn_env, "dsn_set": bool(env.get(eng.journal.dsn_env))}
                       if eng.journal.backend == "postgres" else {}),
                    "ha_role": eng.ha.role},
        "strategy": {"id": strategy.id, "kind": strategy.kind, "symbol": strategy.symbol,
                     "venue": strategy.venue, "size": str(strategy.size)},
        "risk": limits,
        "api": ({"listens": f"http://{api.host}:{api.port or FREE_PORT}", "token_env": api.token_env,
                 "token_set": bool(env.get(api.token_env))} if api.enabled else {"listens": None}),
        "alert_channels": [{"name": c.name, "url_env": c.url_env, "scheme": _scheme(env.get(c.url_env))}
                           for c in settings.monitor.alerts.channels],
    }


async def journal_check(settings: Settings) -> dict[str, Any]:
    """Whom the configured journal traded with, and whether this config would be refused on it (the
    check `nonstop run` makes right after reading it). Read-only; a journal that cannot be read is said so."""
    cfg = settings.engine.journal
    if cfg.backend == "sqlite" and not journal_path(settings).exists():
        return {"exists": False}
    try:
        journal = open_journal(settings, read_only=True)
        await journal.open()
        try:
            state = await replay(journal)
            holder = await journal.holder()
        finally:
            await journal.close()
    except NonstopError as err:
        return {"exists": True, "readable": False, "why": str(err)}
    found: dict[str, Any] = {
        "exists": True, "readable": True, "last_seq": state.last_seq,
        "traded_with": {name: dict(who) for name, who in state.venue_accounts.items()},
        "engine": running(holder),  # the last holder, and whether it still runs
        "halted": None if state.halt is None else state.halt.reason,
    }
    networks = {c.name: (c.exchange, c.network) for c in settings.engine.venues}
    try:
        refuse_mixed_markets(networks, state, journal_name(settings))
    except AccountMismatch as err:
        found["refused"] = str(err)
    return found


def render(plan: Mapping[str, Any]) -> str:
    """The plan as the console shows it."""
    out = [f"config      {plan['config']} (instance {plan['instance']}, {'/'.join(plan['market'])} market)"]
    sim = plan["embedded_simulator"]
    out.append("simulator   " + (f"starts in-process: {sim['venues']}" if sim["starts"] else "does not start"))
    for title, key in (("venue", "venues"), ("data venue", "data_venues")):
        for v in plan[key]:
            out.append(f"{title:<11} {v['name']}: {v['exchange']} {v['network']}, {v['role']}")
            for e in v["endpoints"]:
                user = f"  user ws {e['user_ws']}" if "user_ws" in e else ""
                out.append(f"              {e['name']}: REST {e['rest']}  market ws {e['market_ws']}{user}")
            keys = v["keys"]
            if not keys["sent"]:
                out.append(f"              keys: none sent ({keys['why']})")
            elif "set" in keys:
                shown = ", ".join(f"{n} {'set' if ok else 'NOT SET'}" for n, ok in keys["set"].items())
                out.append(f"              keys: from {shown}")
            else:
                out.append(f"              keys: {keys['why']}")
            if "paper_source" in v:
                out.append(f"              mirrors: {v['paper_source']}")
    j = plan["journal"]
    dsn = f", DSN from {j['dsn_env']} ({'set' if j['dsn_set'] else 'NOT SET'})" if "dsn_env" in j else ""
    out.append(f"journal     {j['backend']} {j['where']}{dsn}, HA role {j['ha_role']}")
    seen = j.get("found")
    if seen is not None:
        if not seen["exists"]:
            out.append("              new: created at the first start")
        elif not seen["readable"]:
            out.append(f"              cannot be read: {seen['why']}")
        else:
            who = "; ".join(f"{n}: {w['exchange']} {w['network']} account {w['account']}"
                            for n, w in seen["traded_with"].items()) or "no venue yet"
            out.append(f"              {seen['last_seq']} records; traded with {who}")
            engine = seen["engine"]
            if engine["state"] == "running":
                out.append(f"              held by a running engine ({engine['detail']}): a second one is refused")
            elif engine["state"] == "unknown":
                out.append(f"              {engine['detail']}: whether it still runs cannot be told from here")
            if seen["halted"]:
                out.append(f"              HALTED ({seen['halted']}): trades again only after `nonstop resume`")
            if "refused" in seen:
                out.append(f"REFUSED     {seen['refused']}")
    s = plan["strategy"]
    out.append(f"strategy    {s['id']}: {s['kind']} {s['symbol']} on {s['venue']}, size {s['size']}")
    if plan["risk"]:
        out.append("risk        " + ", ".join(f"{k}={v}" for k, v in plan["risk"].items() if not isinstance(v, dict)))
    api = plan["api"]
    out.append("api         " + (f"{api['listens']} (token from {api['token_env']}: "
                                 f"{'set' if api['token_set'] else 'NOT SET'})" if api["listens"] else "disabled"))
    for c in plan["alert_channels"]:
        out.append(f"alerts      {c['name']}: {c['scheme'] or 'NOT SET'} (URL from {c['url_env']})")
    for line in plan["check"]:
        out.append(f"CHECK       {line}")
    if plan["not_ready"]:
        out.append("NOT READY   environment variables not set: " + "; ".join(plan["not_ready"]))
    return "\n".join(out)
