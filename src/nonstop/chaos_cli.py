"""`nonstop chaos ...`: inject, list and clear faults in a running simulator (the `sim` command) through
its control API, and read its counters and trades."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import aiohttp
import typer

chaos_app = typer.Typer(no_args_is_help=True)

ControlOpt = Annotated[
    str | None, typer.Option("--control", envvar="NONSTOP_SIM_CONTROL", help="the simulator's control URL")
]
DEFAULT_CONTROL = "http://127.0.0.1:8900"


@chaos_app.callback()
def chaos_options(ctx: typer.Context, control: ControlOpt = None) -> None:
    """Inject and clear faults in a running simulator (the `sim` command)."""
    ctx.obj = control  # `nonstop chaos --control URL set ...` as well as `nonstop chaos set ... --control URL`


def _url(ctx: typer.Context, control: str | None) -> str:
    return control or ctx.obj or DEFAULT_CONTROL


def _control(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    async def call() -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.request(method, url, json=body) as resp:
            return resp.status, await resp.json(content_type=None)

    try:
        status, data = asyncio.run(call())
    except (aiohttp.ClientError, TimeoutError) as err:
        typer.echo(f"error: cannot reach the simulator's control API at {url}: {err}", err=True)
        raise typer.Exit(1) from None
    if status >= 400:
        typer.echo(f"error: {data.get('error', data) if isinstance(data, dict) else data}", err=True)
        raise typer.Exit(1)
    return data


def _param(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            typer.echo(f"error: --param {item!r} must look like name=value", err=True)
            raise typer.Exit(2)
        k, v = item.split("=", 1)
        out[k] = v
    return out


@chaos_app.command("set")
def chaos_set(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(
            help="latency | blackhole | reset | http_error | maintenance | rate_limit | "
            "drop_order_response | error_after_execute | ws_disconnect | frozen_feed | price_spike | "
            "venue_outage"
        ),
    ],
    venue: Annotated[str, typer.Option(help="venue name, e.g. binance-a")],
    endpoint: Annotated[int | None, typer.Option(help="endpoint index (0-based); all endpoints if omitted")] = None,
    probability: Annotated[float, typer.Option(help="chance that a request is hit, in (0, 1]")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="seconds until the fault clears itself")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="name=value, e.g. ms=800, status=503, pct=-20, mode=close, code=1008"),
    ] = None,
    control: ControlOpt = None,
) -> None:
    """Inject a fault; prints it (with its id) as JSON."""
    body = {
        "kind": kind,
        "venue": venue,
        "endpoint": endpoint,
        "probability": probability,
        "duration_s": duration,
        "params": _param(param or []),
    }
    typer.echo(json.dumps(_control("POST", f"{_url(ctx, control)}/control/faults", body)))


@chaos_app.command("clear")
def chaos_clear(
    ctx: typer.Context,
    fault_id: Annotated[int | None, typer.Argument(help="fault id; all faults if omitted")] = None,
    venue: Annotated[str | None, typer.Option(help="only this venue's faults")] = None,
    control: ControlOpt = None,
) -> None:
    """Clear one fault, or all of them."""
    control = _url(ctx, control)
    if fault_id is not None:
        data = _control("DELETE", f"{control}/control/faults/{fault_id}")
    else:
        data = _control("DELETE", f"{control}/control/faults" + (f"?venue={venue}" if venue else ""))
    typer.echo(json.dumps(data))


@chaos_app.command("list")
def chaos_list(ctx: typer.Context, control: ControlOpt = None) -> None:
    """Active faults."""
    typer.echo(json.dumps(_control("GET", f"{_url(ctx, control)}/control/faults"), indent=2))


@chaos_app.command("log")
def chaos_log(ctx: typer.Context, control: ControlOpt = None) -> None:
    """Every fault set, cleared or expired, with UTC timestamps."""
    for entry in _control("GET", f"{_url(ctx, control)}/control/faults/log"):
        typer.echo(json.dumps(entry))


@chaos_app.command("counters")
def chaos_counters(
    ctx: typer.Context,
    venue: Annotated[str, typer.Option(help="venue name, e.g. binance-a")],
    control: ControlOpt = None,
) -> None:
    """How many 429 and 418 answers the venue has given (a client that got a 418 was banned)."""
    typer.echo(json.dumps(_control("GET", f"{_url(ctx, control)}/control/venues/{venue}/counters")))


@chaos_app.command("trades")
def chaos_trades(
    ctx: typer.Context,
    venue: Annotated[str, typer.Option(help="venue name, e.g. binance-a")],
    symbol: Annotated[str | None, typer.Option(help="venue symbol, e.g. BTCUSDT; all if omitted")] = None,
    control: ControlOpt = None,
) -> None:
    """The simulator account's trades (fills) on a venue, one JSON object per line."""
    query = f"?symbol={symbol}" if symbol else ""
    for trade in _control("GET", f"{_url(ctx, control)}/control/venues/{venue}/trades{query}"):
        typer.echo(json.dumps(trade))
