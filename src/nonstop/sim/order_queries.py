"""Looking orders and trades up on the simulated venue (`SimVenue` mixes this in)."""

from __future__ import annotations

from nonstop.config_sim import SimSymbol
from nonstop.sim import rejects
from nonstop.sim.records import BACKGROUND, ReceivedOrder, SimOrder


class OrderQueries:
    """The account's orders by id or client id, its open orders and its trades."""

    orders: dict[int, SimOrder]
    by_client: dict[tuple[str, str], list[int]]
    account_trades: dict[str, list[dict[str, object]]]
    received: list[ReceivedOrder]

    def spec(self, symbol: str) -> SimSymbol:
        raise NotImplementedError

    def find(
        self,
        account: str,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        missing: rejects.BinanceReject,
    ) -> SimOrder:
        """The account's order by venue id or client id (the latest one with that client id)."""
        self.spec(symbol)
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is not None and order.account == account and order.symbol == symbol:
                return order
            raise missing
        ids = self.by_client.get((account, client_order_id or ""), [])
        matches = [self.orders[i] for i in ids if self.orders[i].symbol == symbol]
        if not matches:
            raise missing
        return matches[-1]

    def open_orders(self, account: str, symbol: str | None) -> list[SimOrder]:
        if symbol is not None:
            self.spec(symbol)
        return [
            o
            for o in self.orders.values()
            if o.account == account and o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def my_trades(
        self,
        account: str,
        symbol: str,
        *,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        order_id: int | None = None,
        limit: int = 500,
    ) -> list[dict[str, object]]:
        self.spec(symbol)
        rows = [t for t in self.account_trades.get(account, []) if t["symbol"] == symbol]
        if order_id is not None:
            rows = [t for t in rows if t["orderId"] == order_id]
        if from_id is not None:
            rows = [t for t in rows if int(t["id"]) >= from_id]  # type: ignore[call-overload]
        if start is not None:
            rows = [t for t in rows if int(t["time"]) >= start]  # type: ignore[call-overload]
        if end is not None:
            rows = [t for t in rows if int(t["time"]) <= end]  # type: ignore[call-overload]
        return rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]

    def duplicates(self) -> dict[str, int]:
        """Client order ids that more than one accepted venue order carries."""
        counts: dict[str, int] = {}
        for r in self.received:
            if r.order_id is not None and r.account not in BACKGROUND:
                counts[r.client_order_id] = counts.get(r.client_order_id, 0) + 1
        return {cid: n for cid, n in counts.items() if n > 1}
