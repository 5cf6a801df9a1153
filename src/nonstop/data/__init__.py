"""Market data (M2): redundant feeds, per-source validation, the consensus price, the history cache.

    feeds (ws + REST fallback, other venues) ──▶ Validator ──▶ ConsensusQuote ──▶ strategy
    OhlcvCache (SQLite) ──▶ strategy warm-up
"""

from nonstop.data.consensus import (
    ConsensusBuilder,
    ConsensusQuote,
    SourceQuality,
    SourceStatus,
    build_consensus,
    median,
)
from nonstop.data.feeds import FeedSwitched, MarketDataHub, RedundantFeed, SourceSpec, Transport
from nonstop.data.history import Candle, FetchOhlcv, HistoryError, OhlcvCache
from nonstop.data.settings import DataSettings, FeedSettings, HistorySettings, ValidatorSettings
from nonstop.data.sources import Fetch, Watch, ccxt_book_watch, ccxt_ticker_fetch, ccxt_ticker_watch, venue_quote_fetch
from nonstop.data.validator import SourceQuote, Validator, book_status

__all__ = [
    "Candle",
    "ConsensusBuilder",
    "ConsensusQuote",
    "DataSettings",
    "FeedSettings",
    "FeedSwitched",
    "Fetch",
    "FetchOhlcv",
    "HistoryError",
    "HistorySettings",
    "MarketDataHub",
    "OhlcvCache",
    "RedundantFeed",
    "SourceQuality",
    "SourceQuote",
    "SourceSpec",
    "SourceStatus",
    "Transport",
    "Validator",
    "ValidatorSettings",
    "Watch",
    "book_status",
    "build_consensus",
    "ccxt_book_watch",
    "ccxt_ticker_fetch",
    "ccxt_ticker_watch",
    "median",
    "venue_quote_fetch",
]
