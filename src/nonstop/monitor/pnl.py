"""Per-strategy PnL and exposure from fills (the average-cost books live in the model,
`nonstop.model.strategy_book`, because the state carries the books of archived fills)."""

from nonstop.model.strategy_book import Position, StrategyBook, StrategyFigures

__all__ = ["Position", "StrategyBook", "StrategyFigures"]
