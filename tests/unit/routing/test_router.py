"""The router over the engine's state: balances and listings decide eligibility, every decision is
recorded (ranking, reason) and becomes the `RouteDecided` journal note; downed venues alert."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from nonstop.clock import ManualClock
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    EngineState,
    Instrument,
    InstrumentId,
    RouteDecided,
    Side,
)
from nonstop.routing.router import Router

D = Decimal
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class ListedVenue:
    """The part of a `VenuePort` the router reads when the venue has no gateway: its name and listings."""

    def __init__(self, name: str, *symbols: str) -> None:
        self.name = name
        self._instruments = {InstrumentId(name, s): Instrument(InstrumentId(name, s), D("0.01"), D("0.00001"),
                                                               D("0.00001")) for s in symbols}

    def instruments(self) -> dict[InstrumentId, Instrument]:
        return self._instruments


def funded(state: EngineState, venue: str, usdt: str, btc: str) -> None:
    state.apply(BalanceSnapshot(ts=T0, venue=venue, balances=(Balance("USDT", D(usdt), D(0)),
                                                              Balance("BTC", D(btc), D(0)))))


def make(state: EngineState) -> Router:
    venues = {v.name: v for v in (ListedVenue("a", "ETH/USDT"), ListedVenue("b", "BTC/USDT"),
                                  ListedVenue("c", "BTC/USDT"))}
    return Router(venues, ManualClock(T0), lambda: state)


def test_router_never_picks_an_unlisted_or_unfunded_venue() -> None:
    state = EngineState()
    for v in ("a", "b", "c"):
        funded(state, v, "1000000", "10")
    funded(state, "b", "10", "0")  # b: too little USDT to buy, no BTC to sell
    router = make(state)
    books = {v: (D("99"), D("100")) for v in ("a", "b", "c")}
    for side in Side:
        decision = router.route("BTC/USDT", side, D("1"), D("100"), books)
        assert decision.venue == "c", decision
        assert decision.ranking_texts()[1:] == ("a: does not list the instrument", "b: not enough balance")
    funded(state, "c", "0", "0")
    none = router.route("BTC/USDT", Side.BUY, D("1"), D("100"), books)
    assert none.venue is None and router.counts == {"c": 2} and router.total == 3


def test_router_note_carries_score_reason_and_ranking() -> None:
    state = EngineState()
    for v in ("b", "c"):
        funded(state, v, "1000000", "10")
    router = make(state)
    books = {"b": (D("99"), D("100.2")), "c": (D("99"), D("100"))}
    decision = router.route("BTC/USDT", Side.BUY, D("1"), D("100"), books)
    assert decision.venue == "c"
    cid = ClientOrderId.build("a1", "mm", 7)
    note = router.event(cid, "BTC/USDT", decision)
    assert isinstance(note, RouteDecided) and note.venue == "c" and note.client_order_id == cid
    assert note.score == D(str(decision.score)) and note.ranking[0].startswith("c=") and "bps" in note.reason
    hedge = router.hedge_note(lambda c: router.event(c, "BTC/USDT", decision), "hedge of 0.1")(cid)
    assert hedge.reason.startswith("hedge of 0.1; best score")
    status = router.status()
    assert status["last_decisions"][-1]["venue"] == "c" and status["away"] == []
