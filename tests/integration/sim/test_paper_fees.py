"""A paper venue's fees are its source venue's, as ccxt's market data gives them (the exchange
class's fee schedule), unless `[engine.venues.paper]` sets them; the paper simulator charges them and
its tradeFee endpoint answers them. A source simulator stands in for the live venue."""

from __future__ import annotations

from decimal import Decimal

from nonstop.config import EngineSettings, EngineVenue, Settings, StrategySettings
from nonstop.sim.paper import paper_sim_settings
from nonstop.sim.server import SimServer
from nonstop.venues.settings import PaperSettings
from tests.simkit import okx_rest_client, rest_client, running_okx_sim, running_sim


def _paper(exchange: str, source_url: str, **fees: Decimal) -> Settings:
    paper = PaperSettings(source="sim", source_url=source_url, **fees)
    return Settings(engine=EngineSettings(
        venues=[EngineVenue(name="paper", exchange=exchange, network="paper", paper=paper)],
        strategy=StrategySettings(venue="paper", symbol="BTC/USDT"),
    ))


async def _ccxt_rates(client) -> tuple[Decimal, Decimal]:
    market = (await client.load_markets())["BTC/USDT"]
    return Decimal(str(market["maker"])), Decimal(str(market["taker"]))


async def test_paper_fees_are_the_okx_source_venues_from_ccxt_market_data() -> None:
    async with running_okx_sim(endpoints=1) as source, okx_rest_client(source) as ccxt_client:
        expected = await _ccxt_rates(ccxt_client)
        sim = await paper_sim_settings(_paper("okx", source.venues["okx"].urls[0]))
    venue = sim.venues[0]
    assert (venue.maker_fee, venue.taker_fee) == expected
    assert expected != (Decimal("0.001"), Decimal("0.001"))  # not Binance's rate applied to every venue


async def test_paper_fees_config_overrides_the_source_and_the_paper_venue_charges_them() -> None:
    async with running_sim(venues=1, endpoints=1) as source, rest_client(source) as ccxt_client:
        maker, taker = await _ccxt_rates(ccxt_client)
        assert (maker, taker) == (Decimal("0.001"), Decimal("0.001"))  # Binance spot's regular tier
        sim = await paper_sim_settings(_paper("binance", source.venues["alpha"].urls[0], maker_fee=Decimal("0.0002")))
    assert (sim.venues[0].maker_fee, sim.venues[0].taker_fee) == (Decimal("0.0002"), taker)
    async with SimServer(sim) as paper, rest_client(paper, "paper") as ex:
        fees = await ex.fetch_trading_fee("BTC/USDT")
        assert (fees["maker"], fees["taker"]) == (0.0002, 0.001)  # /sapi/v1/asset/tradeFee
        runtime = paper.venues["paper"].venue
        assert (runtime.maker_fee, runtime.taker_fee) == (Decimal("0.0002"), Decimal("0.001"))
