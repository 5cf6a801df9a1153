"""Our orders by the venue's own order id, for reports that carry no client id of ours.

A REST trade, a late execution report or a reconcile finding can name an order only by the venue's
order id. The index maps `(venue, venue order id)` to our client order id for every order in the
state that has one, and keeps it as small as the state: a finished order stays findable only
while it is among the newest `limit` finished ones (bounded memory over a 24/7 run), and an order
archived out of the state leaves at once (a report naming it finds no order anyway).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container

from nonstop.model import Order

Key = tuple[str, str]  # (venue, venue order id)


class VenueOrderIndex:
    """`(venue, venue order id)` -> client order id, bounded (see the module docstring)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit  # finished orders still found by their venue order id
        self.by_id: dict[Key, str] = {}
        # venue ids of finished orders, oldest first: only the newest `limit` stay in `by_id`
        self.finished: OrderedDict[Key, None] = OrderedDict()

    @staticmethod
    def key(order: Order) -> Key | None:
        return None if order.venue_order_id is None else (order.instrument_id.venue, order.venue_order_id.value)

    def add(self, order: Order) -> None:
        """Index an order that has its venue order id (accepted)."""
        key = self.key(order)
        if key is not None:
            self.by_id[key] = order.client_order_id.value

    def find(self, venue: str, venue_order_id: str) -> str | None:
        """Our client order id of the venue's order, if it is still in the index."""
        return self.by_id.get((venue, venue_order_id))

    def finish(self, order: Order) -> None:
        """A finished order: the oldest finished ones beyond `limit` leave the index."""
        key = self.key(order)
        if key is None:
            return
        self.finished[key] = None
        while len(self.finished) > self.limit:
            self.by_id.pop(self.finished.popitem(last=False)[0], None)

    def drop_missing(self, orders: Container[str]) -> None:
        """Drop the finished orders no longer in `orders` (the state's, after an archiving round)."""
        gone = [k for k in self.finished if self.by_id.get(k) not in orders]
        for k in gone:
            del self.finished[k]
            self.by_id.pop(k, None)
