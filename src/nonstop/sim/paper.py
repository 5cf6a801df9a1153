"""The paper simulator (`network = "paper"`): one simulated venue per paper venue of the engine, its
market mirroring the source venue's public data (`sim.mirror`), its markets' filters and opening
price read from the source (ccxt `load_markets` / `fetch_ticker`, public, no keys), its fees the
source's (ccxt's market data, overridable in `[engine.venues.paper]`), its account
opened with the configured paper balances. The engine reaches it at loopback through the same venue
profile and adapter as a live venue; its state (orders, fills, balances) is kept under
`<data_dir>/paper`, so the paper account carries over restarts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.pro as ccxt_pro

from nonstop.config import EngineVenue, Settings, SimMirror, SimSettings, SimSymbol, SimVenue
from nonstop.errors import ConfigError
from nonstop.sim.mirror import source_client
from nonstop.sim.settlement import FEE_RATE


def _decimal(value: Any, default: Decimal) -> Decimal:
    return Decimal(str(value)) if value else default


def sim_symbol(market: dict[str, Any], last_price: float) -> SimSymbol:
    """A ccxt market (tick size precision mode, as Binance's and OKX's) as the simulator's listing."""
    tick = _decimal(market["precision"]["price"], Decimal("0.01"))
    step = _decimal(market["precision"]["amount"], Decimal("0.00001"))
    limits = market["limits"]
    return SimSymbol(
        base=market["base"], quote=market["quote"], start_price=Decimal(str(last_price)), tick_size=tick,
        step_size=step, min_qty=_decimal(limits["amount"]["min"], step),
        max_qty=_decimal(limits["amount"]["max"], Decimal("9000")),
        min_notional=_decimal(limits["cost"]["min"], Decimal("5")),
    )


def source_fees(market: dict[str, Any], schedule: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """The source venue's maker and taker rates for a market: ccxt's market data (`maker`, `taker`), else
    the exchange class's fee schedule (`fees["trading"]`), else Binance spot's regular 0.1 %."""
    trading = schedule.get("trading", {}) if isinstance(schedule, dict) else {}
    rates = []
    for side in ("maker", "taker"):
        value = market.get(side)
        if value is None:
            value = trading.get(side)
        rates.append(Decimal(str(value)) if value is not None else FEE_RATE)
    return rates[0], rates[1]


async def source_symbols(
    cfg: EngineVenue, mirror: SimMirror, symbols: list[str]
) -> tuple[list[SimSymbol], tuple[Decimal, Decimal]]:
    """The listings of `symbols` as the source venue has them (filters and the last price), and the
    source's maker and taker rates for the first of them."""
    client = source_client(mirror)
    where = f"engine venue {cfg.name!r} (paper, source {mirror.exchange} {mirror.network})"
    try:
        markets = await client.load_markets()
        found = []
        for symbol in symbols:
            market = markets.get(symbol)
            if market is None or market.get("spot") is False:
                raise ConfigError(f"{where}: {symbol} is not a spot market of the source")
            ticker = await client.fetch_ticker(symbol)
            last = ticker.get("last") or ticker.get("close")
            if not last:
                raise ConfigError(f"{where}: the source has no last price for {symbol}")
            found.append(sim_symbol(market, last))
        return found, source_fees(markets[symbols[0]], client.fees)
    except (ccxt_pro.NetworkError, ccxt_pro.ExchangeError) as err:
        raise ConfigError(f"{where}: cannot read the source's markets: {type(err).__name__}: {err}") from None
    finally:
        await client.close()


async def paper_sim_settings(settings: Settings) -> SimSettings:
    """The simulator of the engine's paper venues (free loopback ports, no control port)."""
    eng = settings.engine
    venues = []
    for cfg in [*eng.venues, *(eng.data_venues or [])]:
        if not cfg.is_paper:
            continue
        paper = cfg.paper_settings
        mirror = SimMirror(exchange=cfg.exchange, network=paper.source, url=paper.source_url,
                           book_depth=paper.book_depth)
        symbols, (maker, taker) = await source_symbols(cfg, mirror, paper.symbols or [eng.strategy.symbol])
        venues.append(SimVenue(name=cfg.name, ports=[0], dialect=cfg.exchange, symbols=symbols, mirror=mirror,
                               starting_balances=dict(paper.balances),
                               maker_fee=maker if paper.maker_fee is None else paper.maker_fee,
                               taker_fee=taker if paper.taker_fee is None else paper.taker_fee))
    return SimSettings(host="127.0.0.1", control_port=0, seed=settings.sim.seed, venues=venues)
