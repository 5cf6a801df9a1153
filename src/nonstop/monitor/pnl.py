"""Per-strategy PnL and exposure from fills (the average-cost books live in the model,
`nonstop.model.strategy_book`, because the state carries the books of archived fills), and how an
amount in a quote currency is written where people read it."""

from decimal import Decimal

from nonstop.model.instrument import USD_LIKE
from nonstop.model.strategy_book import Position, StrategyBook, StrategyBooks, StrategyFigures

__all__ = ["Position", "StrategyBook", "StrategyBooks", "StrategyFigures", "amount_text", "signed_amount"]


# dollars and cents: an amount in these is written with 2 decimals whatever its size
CENTS = USD_LIKE | {"EUR", "GBP", "TRY", "BRL", "JPY"}


def amount_text(value: Decimal, *, sign: bool = False, quote: str | None = None) -> str:
    """`12.34`; an amount under 1 keeps 8 decimals (`-0.00012000`: a BTC amount is that small), except
    in a dollar-like `quote` (`-0.12 USDT`, not `-0.12003423 USDT`)."""
    places = 2 if abs(value) >= 1 or value == 0 or quote in CENTS else 8
    return f"{value:{'+' if sign else ''}.{places}f}"


def signed_amount(value: Decimal, quote: str, *, sign: bool = True) -> str:
    """`+12.34 USDT`, `-0.00012000 BTC` (`amount_text` with its currency)."""
    return f"{amount_text(value, sign=sign, quote=quote)} {quote}"
