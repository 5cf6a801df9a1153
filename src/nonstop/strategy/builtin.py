"""The built-in strategies by `engine.strategy.kind` (`trend`, `quoter`, `market_maker`), or your
own by import path (`package.module:Class`, see `nonstop.strategy.loader`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nonstop.data.consensus import ConsensusQuote
from nonstop.model import InstrumentId, OrderFilled
from nonstop.strategy.base import Intent, StrategyView
from nonstop.strategy.interface import StrategyBase, TradingStrategy, cancel_all
from nonstop.strategy.loader import load_strategy
from nonstop.strategy.market_maker import MarketMaker
from nonstop.strategy.quoter import TwoSidedQuoter
from nonstop.strategy.trend import TrendFollower

if TYPE_CHECKING:  # the settings module imports this package's degradation settings
    from nonstop.config import StrategySettings


class QuoterStrategy(StrategyBase):
    """The first example (`TwoSidedQuoter`, `on_quote`) on the consensus: pulls its quotes when
    there is no trustworthy price."""

    def __init__(self, quoter: TwoSidedQuoter) -> None:
        self.quoter = quoter
        self.id = quoter.id

    @property
    def instruments(self) -> list[InstrumentId]:
        return self.quoter.instruments

    def on_market(self, market: ConsensusQuote, view: StrategyView) -> list[Intent]:
        if market.symbol != self.quoter.instrument_id.symbol:
            return []
        quote = market.to_quote(self.quoter.instrument_id)
        if quote is None:
            return cancel_all(self.instruments, view)
        return self.quoter.on_quote(quote, view)

    def on_fill(self, fill: OrderFilled, view: StrategyView) -> list[Intent]:
        return self.quoter.on_fill(fill, view)


def build_strategy(cfg: StrategySettings) -> TradingStrategy:
    """The configured strategy (`engine.strategy.kind`)."""
    iid = InstrumentId(cfg.venue, cfg.symbol)
    if ":" in cfg.kind:  # your own, by import path
        return load_strategy(cfg.kind, cfg.params, strategy_id=cfg.id, instrument_id=iid, folder=cfg.path)
    if cfg.kind == "trend":
        return TrendFollower(cfg.id, iid, cfg.size, cfg.fast, cfg.slow, cfg.bar_s, cfg.slippage_bps)
    if cfg.kind == "quoter":
        return QuoterStrategy(
            TwoSidedQuoter(cfg.id, iid, cfg.size, cfg.half_spread_bps, cfg.requote_bps, cfg.max_position)
        )
    return MarketMaker(cfg.id, iid, cfg.size, cfg.half_spread_bps, cfg.requote_bps, cfg.max_position, cfg.skew_bps)
