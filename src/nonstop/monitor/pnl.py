"""Per-strategy PnL and exposure from fills (the average-cost books live in the model,
`nonstop.model.strategy_book`, because the state carries the books of archived fills), and how an
amount in a quote currency is written where people read it."""

from decimal import Decimal

from nonstop.model.strategy_book import Position, StrategyBook, StrategyBooks, StrategyFigures

__all__ = ["Position", "StrategyBook", "StrategyBooks", "StrategyFigures", "signed_amount"]


def signed_amount(value: Decimal, quote: str, *, sign: bool = True) -> str:
    """`+12.34 USDT`; an amount under 1 keeps 8 decimals (`-0.00012000 BTC`: a BTC amount is that small)."""
    places = 2 if abs(value) >= 1 or value == 0 else 8
    return f"{value:{'+' if sign else ''}.{places}f} {quote}"
