"""EngineState: the fold, fill de-duplication, canonical serialisation and hash."""

import json
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nonstop.errors import IllegalTransition, ModelError, Overfill, UnknownOrder
from nonstop.model import (
    Balance,
    BalanceChanged,
    BalanceSnapshot,
    ClientOrderId,
    DegradationChanged,
    DifferenceKind,
    EngineState,
    InstrumentId,
    Order,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderState,
    OrderSubmitted,
    OrderType,
    ReconcileDifference,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.model.testing import fold, random_valid_events

TS = datetime(2026, 1, 1, tzinfo=UTC)
BTC = InstrumentId("binance-a", "BTC/USDT")
ETH = InstrumentId("binance-a", "ETH/USDT")


def intent(seq: int, inst: InstrumentId = BTC, side: Side = Side.BUY, qty: str = "2") -> OrderIntent:
    return OrderIntent(ts=TS, client_order_id=ClientOrderId.build("a1", "mm", seq), instrument_id=inst, side=side,
                       order_type=OrderType.LIMIT, quantity=Decimal(qty), price=Decimal("10"))


def filled(seq: int, trade: str, qty: str = "1") -> OrderFilled:
    return OrderFilled(ts=TS, client_order_id=ClientOrderId.build("a1", "mm", seq), trade_id=TradeId(trade),
                       price=Decimal("10"), quantity=Decimal(qty), fee=Decimal("0.01"), fee_asset="USDT")


def live(state: EngineState, seq: int, inst: InstrumentId = BTC, side: Side = Side.BUY) -> None:
    coid = ClientOrderId.build("a1", "mm", seq)
    state.apply(intent(seq, inst, side))
    state.apply(OrderSubmitted(ts=TS, client_order_id=coid))
    state.apply(OrderAccepted(ts=TS, client_order_id=coid, venue_order_id=VenueOrderId(str(seq))))


def test_engine_state_repeated_trade_id_is_counted_once() -> None:
    state = EngineState()
    live(state, 1)
    state.apply(filled(1, "t1"))
    before = state.state_hash()
    state.apply(filled(1, "t1"))  # same trade, new event id (websocket + REST)
    assert state.state_hash() == before
    assert state.order("ns-a1-mm-1").filled_qty == Decimal(1) and len(state.fills) == 1
    assert state.positions[str(BTC)] == Decimal(1)


def test_engine_state_same_trade_id_on_another_instrument_is_a_different_fill() -> None:
    state = EngineState()
    live(state, 1, BTC)
    live(state, 2, ETH, Side.SELL)
    state.apply(filled(1, "t1"))
    state.apply(filled(2, "t1"))
    assert len(state.fills) == 2
    assert state.positions == {str(BTC): Decimal(1), str(ETH): Decimal(-1)}


def test_engine_state_refused_event_changes_nothing() -> None:
    state = EngineState()
    live(state, 1)
    state.apply(filled(1, "t1"), seq=5)
    before = state.state_hash()
    with pytest.raises(Overfill):
        state.apply(filled(1, "t2", qty="5"), seq=6)
    with pytest.raises(UnknownOrder):
        state.apply(filled(9, "t3"), seq=6)
    with pytest.raises(IllegalTransition, match="already exists"):
        state.apply(intent(1), seq=6)
    with pytest.raises(ModelError, match="not after"):
        state.apply(filled(1, "t4"), seq=5)
    assert state.state_hash() == before and state.last_seq == 5


def test_engine_state_balances_snapshot_replaces_and_change_updates() -> None:
    state = EngineState()
    state.apply(BalanceChanged(ts=TS, venue="binance-a", asset="ETH", free=Decimal(3)))
    state.apply(BalanceSnapshot(ts=TS, venue="binance-a", balances=(Balance("USDT", Decimal(100), Decimal(5)),)))
    assert set(state.balances["binance-a"]) == {"USDT"}
    state.apply(BalanceChanged(ts=TS, venue="binance-a", asset="BTC", free=Decimal("0.5")))
    assert state.balances["binance-a"]["BTC"].total == Decimal("0.5")
    assert state.balances["binance-a"]["USDT"].total == Decimal(105)


def test_engine_state_tracks_order_seq_and_differences() -> None:
    state = EngineState()
    state.apply(intent(7))
    state.apply(intent(3))
    state.apply(ReconcileDifference(ts=TS, venue="binance-a", kind=DifferenceKind.ORDER_GONE, detail="x"))
    assert state.max_order_seq("a1") == 7 and state.max_order_seq("zz") == 0
    assert state.differences == {"ORDER_GONE": 1}
    assert [o.state for o in state.open_orders()] == [] and state.in_doubt() == []


def test_engine_state_hash_changes_with_any_field() -> None:
    state = EngineState()
    live(state, 1)
    hashes = {state.state_hash()}
    state.apply(filled(1, "t1"))
    hashes.add(state.state_hash())
    state.apply(BalanceChanged(ts=TS, venue="binance-a", asset="BTC", free=Decimal(1)))
    hashes.add(state.state_hash())
    state.apply(ReconcileDifference(ts=TS, venue="binance-a", kind=DifferenceKind.BALANCE_DRIFT, detail="x"))
    hashes.add(state.state_hash())
    state.last_seq += 1
    hashes.add(state.state_hash())
    assert len(hashes) == 5


def test_engine_state_canonical_json_is_independent_of_insertion_order() -> None:
    a, b = EngineState(), EngineState()
    live(a, 1)
    live(a, 2)
    live(b, 2)
    live(b, 1)
    assert a.canonical_json() == b.canonical_json() and a == b


def test_engine_state_from_dict_rejects_malformed_state() -> None:
    good = fold(random_valid_events(random.Random(3), 50)).to_dict()
    for broken in ({**good, "v": 99}, {k: v for k, v in good.items() if k != "orders"},
                   {**good, "positions": {"x": "not-a-number"}}):
        with pytest.raises(ModelError):
            EngineState.from_dict(broken)


def test_engine_state_copy_is_independent() -> None:
    state = EngineState()
    live(state, 1)
    copy = state.copy()
    state.apply(filled(1, "t1"))
    assert copy.order("ns-a1-mm-1").state is OrderState.ACCEPTED and copy != state


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 150), st.data())
def test_engine_state_snapshot_then_fold_rest_equals_full_fold(rng: random.Random, n: int, data: st.DataObject) -> None:
    events = random_valid_events(rng, n)
    full = fold(events)
    cut = data.draw(st.integers(0, n), label="snapshot after")
    snap = EngineState.from_dict(fold(events[:cut]).to_dict())
    for seq, event in enumerate(events[cut:], start=cut + 1):
        snap.apply(event, seq=seq)
    assert snap.state_hash() == full.state_hash()
    assert EngineState.from_dict(full.to_dict()).canonical_json() == full.canonical_json()


def test_engine_state_degradation_change_is_kept_and_roundtrips() -> None:
    state = EngineState()
    live(state, 1)
    before_json = state.canonical_json()
    assert "degradation" not in state.to_dict()  # a state that never degraded keeps its old bytes
    state.apply(DegradationChanged(ts=TS, old="normal", new="reduce_only", reasons=("a", "b")), seq=9)
    assert state.degradation is not None and state.degradation.level == "reduce_only"
    assert state.degradation.reason == "a; b" and state.degradation.since == TS
    back = EngineState.from_dict(state.to_dict())
    assert back == state and back.degradation == state.degradation
    assert back.copy().degradation == state.degradation
    assert EngineState.from_dict(json.loads(before_json)).degradation is None


def test_engine_state_malformed_degradation_raises() -> None:
    state = EngineState()
    state.apply(DegradationChanged(ts=TS, old="normal", new="halted", reasons=("operator",)))
    data = state.to_dict()
    data["degradation"]["level"] = "panic"
    with pytest.raises(ModelError, match="degradation"):
        EngineState.from_dict(data)


def test_state_journal_copied_raises_the_order_seq_and_nothing_else() -> None:
    from nonstop.model import JournalCopied

    state = EngineState()
    state.order_seq["a1"] = 5
    state.apply(JournalCopied(ts=datetime(2026, 11, 29, tzinfo=UTC), source="x", upto_seq=3,
                              order_seqs=("a1=77", "b2=3")), seq=4)
    assert state.order_seq == {"a1": 77, "b2": 3} and state.last_seq == 4 and not state.orders


def test_engine_state_takes_a_checked_order_only_from_the_order_it_holds() -> None:
    t1, t2, t1_again, second = filled(1, "t1"), filled(1, "t2"), filled(1, "t1"), intent(2)
    state = EngineState()
    live(state, 1)
    held = state.order(ClientOrderId.build("a1", "mm", 1))
    after = held.apply(t1)
    state.apply(t1, seq=1, checked=(held, after))
    assert state.order(held.client_order_id) is after  # computed once, by the caller that validated it
    assert state.positions[str(BTC)] == Decimal(1) and state.last_seq == 1

    # checked against an order the state no longer holds: ignored, the event is applied as usual
    bogus = after.apply(filled(1, "t9"))
    state.apply(t2, seq=2, checked=(held, bogus))
    assert state.order(held.client_order_id).filled_qty == Decimal(2) and state.order(held.client_order_id) is not bogus
    # an intent's order built from another intent: ignored, built from this one
    state.apply(second, seq=3, checked=(None, Order.from_intent(intent(3, ETH))))
    assert state.order(second.client_order_id).instrument_id == BTC
    # the fold's own checks still run: a repeated execution is a no-op, a seq must follow the last
    current = state.order(held.client_order_id)
    state.apply(t1_again, seq=4, checked=(current, bogus))
    assert state.order(held.client_order_id) is current
    with pytest.raises(ModelError):
        state.apply(OrderSubmitted(ts=TS, client_order_id=second.client_order_id), seq=4)
    reference = EngineState()
    live(reference, 1)
    for seq, event in enumerate([t1, t2, second, t1_again], start=1):
        reference.apply(event, seq=seq)
    assert state.state_hash() == reference.state_hash()
