"""Filled orders archived out of the state change no figure: random fill sequences folded with and
without `OrdersArchived` give the same positions, portfolio, per-strategy PnL, daily PnL and balances,
and the archiving state survives a snapshot (snapshot + tail == the full fold)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from nonstop.errors import ModelError
from nonstop.execution.archive import FinishedOrders
from nonstop.execution.watchdog_orders import last_watchdog_seq
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderIntent,
    OrdersArchived,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.risk.daily_loss import DailyPnl
from nonstop.routing.portfolio import portfolio_of
from nonstop.status_figures import current_balances, strategy_pnl

T0 = datetime(2026, 11, 1, 20, tzinfo=UTC)  # the fills straddle midnight: the daily figures see two days
VENUES = ("alpha", "beta")
SYMBOLS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")
FEE_ASSETS = ("quote", "base", "BNB")

fill_spec = st.tuples(
    st.integers(0, 600),  # minutes after T0 (ties happen)
    st.decimals(Decimal("0.001"), Decimal("3"), places=3),  # quantity
    st.decimals(Decimal("90"), Decimal("110"), places=2),  # price
    st.decimals(Decimal("0"), Decimal("0.5"), places=3),  # fee
    st.sampled_from(FEE_ASSETS),
)
order_spec = st.tuples(
    st.sampled_from(VENUES), st.sampled_from(SYMBOLS), st.sampled_from(("mm", "tr")),
    st.sampled_from((Side.BUY, Side.SELL)), st.lists(fill_spec, min_size=0, max_size=3),
    st.booleans(),  # finished (else left open, partly filled)
)


def _order_events(seq: int, spec: tuple) -> list[tuple[datetime, int, Event]]:
    venue, symbol, strategy, side, fills, finished = spec
    iid = InstrumentId(venue, symbol)
    cid = ClientOrderId.build("a1", strategy, seq)
    start = T0 + timedelta(minutes=min((f[0] for f in fills), default=0))
    total = sum((f[1] for f in fills), Decimal(0))
    quantity = total if finished and fills else total + Decimal(1)
    events: list[Event] = [
        OrderIntent(ts=start, client_order_id=cid, instrument_id=iid, side=side, order_type=OrderType.LIMIT,
                    quantity=quantity, price=Decimal(100)),
        OrderSubmitted(ts=start, client_order_id=cid),
        OrderAccepted(ts=start, client_order_id=cid, venue_order_id=VenueOrderId(f"v{seq}")),
    ]
    base, quote = iid.base, iid.quote
    for n, (minute, qty, price, fee, asset) in enumerate(sorted(fills, key=lambda f: f[0])):
        fee_asset = {"quote": quote, "base": base}.get(asset, asset)
        events.append(OrderFilled(ts=T0 + timedelta(minutes=minute), client_order_id=cid,
                                  trade_id=TradeId(f"{seq}-{n}"), price=price, quantity=qty, fee=fee,
                                  fee_asset=fee_asset, liquidity=Liquidity.MAKER))
    if finished and not fills:
        events.append(OrderCanceled(ts=start, client_order_id=cid))
    last = max((e.ts for e in events), default=start)
    return [(e.ts if i < 3 or isinstance(e, OrderFilled) else last, seq, e) for i, e in enumerate(events)]


def _journal(orders: list[tuple]) -> list[Event]:
    """Every order's events, in time order (an order's own events keep their order)."""
    by_start = sorted(orders, key=lambda spec: min((f[0] for f in spec[4]), default=0))  # ids rise with time
    rows = [row for seq, spec in enumerate(by_start, 1) for row in _order_events(seq, spec)]
    order_index = {id(e): i for i, (_, _, e) in enumerate(rows)}
    return [e for _, _, e in sorted(rows, key=lambda r: (r[0], r[1], order_index[id(r[2])]))]


def _snapshots(state: EngineState, ts: datetime) -> list[BalanceSnapshot]:
    """A balance snapshot per venue that has seen every fill so far."""
    return [BalanceSnapshot(ts=ts, venue=v, balances=(Balance("USDT", Decimal(1000), Decimal(0)),),
                            includes=tuple(state.balance_pending.get(v, ()))) for v in VENUES]


def _figures(state: EngineState, now: datetime) -> dict[str, object]:
    marks = {"BTC/USDT": Decimal("101.5"), "ETH/USDT": Decimal("99"), "ETH/BTC": Decimal("100.25")}
    daily = DailyPnl(state, now)
    return {
        "positions": dict(sorted(state.positions.items())),
        "portfolio": portfolio_of(state).to_dict(marks),
        "strategy_pnl": strategy_pnl(state),
        "daily": daily.pnl(now, lambda i: marks.get(i.symbol)),
        "balances": current_balances(state),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(orders=st.lists(order_spec, min_size=1, max_size=14), every=st.integers(1, 12),
       keep_min=st.sampled_from((0, 30, 240)), cut=st.integers(0, 40))
def test_archiving_filled_orders_changes_no_figure(orders: list[tuple], every: int, keep_min: int, cut: int) -> None:
    _archiving_changes_no_figure(orders, every, keep_min, cut)


def test_a_strategy_with_two_quote_currencies_keeps_its_figures_when_archived() -> None:
    q = Decimal("0.001"), Decimal("90.00"), Decimal("0.000")
    _archiving_changes_no_figure([("alpha", "BTC/USDT", "mm", Side.BUY, [], False),
                                  ("alpha", "ETH/USDT", "mm", Side.BUY, [(0, *q, "quote")], True),
                                  ("alpha", "ETH/BTC", "mm", Side.BUY, [(0, *q, "quote")], False)],
                                 every=1, keep_min=0, cut=0)


def _archiving_changes_no_figure(orders: list[tuple], every: int, keep_min: int, cut: int) -> None:
    events = _journal(orders)
    plain, archiving = EngineState(), EngineState()
    finished = FinishedOrders()
    archive_records: list[Event] = []  # the archiving state's own journal
    for n, event in enumerate(events, 1):
        for state in (plain, archiving):
            state.apply(event)
        archive_records.append(event)
        finished.note(archiving, event)
        if n % every == 0:
            for snap in _snapshots(archiving, event.ts):  # the reconciler saw the fills
                plain.apply(snap)
                archiving.apply(snap)
                archive_records.append(snap)
            due = finished.due(archiving, timedelta(minutes=keep_min))
            if due:
                record = OrdersArchived(ts=event.ts, client_order_ids=tuple(due))
                archiving.apply(record)
                archive_records.append(record)
                finished.forget(due)
    assert len(archiving.fills) + archiving.carried.fills == len(plain.fills)
    if currently_in_test_context():
        statistic("filled orders archived" if archiving.carried.fills else "no fill archived")
    assert len(archiving.orders) + archiving.archived_orders == len(plain.orders)
    for now in (events[-1].ts, events[-1].ts + timedelta(days=1)):  # the day of the last fill, and the next
        assert _figures(archiving, now) == _figures(plain, now)
    # the state survives a snapshot: snapshot at any point + the tail == the full fold
    head = EngineState()
    cut = min(cut, len(archive_records))
    for event in archive_records[:cut]:
        head.apply(event)
    restored = EngineState.from_dict(json.loads(head.canonical_json()))
    for event in archive_records[cut:]:
        restored.apply(event)
    assert restored.canonical_json() == archiving.canonical_json()
    assert _figures(restored, events[-1].ts) == _figures(plain, events[-1].ts)


def test_a_filled_order_leaves_the_state_with_its_fills_and_the_figures_stay() -> None:
    plain, archiving = EngineState(), EngineState()
    events = _journal([("alpha", "BTC/USDT", "mm", Side.BUY, [(1, Decimal(2), Decimal(100), Decimal("0.1"), "quote")],
                        True),
                       ("alpha", "BTC/USDT", "mm", Side.SELL, [(5, Decimal(1), Decimal(110), Decimal(0), "quote")],
                        True)])
    for event in events:
        plain.apply(event)
        archiving.apply(event)
    first = ClientOrderId.build("a1", "mm", 1).value
    with pytest.raises(ModelError, match="pending a balance snapshot"):  # the reconciler's baseline needs it
        archiving.apply(OrdersArchived(ts=events[-1].ts, client_order_ids=(first,)))
    for snap in _snapshots(archiving, events[-1].ts):
        plain.apply(snap)
        archiving.apply(snap)
    archiving.apply(OrdersArchived(ts=events[-1].ts, client_order_ids=(first,)))
    assert first not in archiving.orders and len(archiving.fills) == 1 and archiving.carried.fills == 1
    assert _figures(archiving, events[-1].ts) == _figures(plain, events[-1].ts)
    assert portfolio_of(archiving).position("alpha", "BTC/USDT").realized == Decimal("9.9")  # (110-100)x1 - 0.1


def test_the_watchdog_s_own_id_sequence_has_its_own_archive_watermark() -> None:
    """Archiving the engine's orders 1..n must not make the watchdog's order 1 look archived (it
    counts its own sequence), and an archived watchdog order is still known as taken in."""
    state = EngineState()
    engine_orders = [("alpha", "BTC/USDT", "mm", Side.BUY, [], True)] * 4
    for event in _journal(engine_orders):
        state.apply(event)
    state.apply(OrdersArchived(ts=T0, client_order_ids=tuple(sorted(state.orders))))
    assert state.archived_seq == {"a1": 4}
    wd = ClientOrderId.build("a1", "wds", 1)
    assert not state.is_archived(wd)
    iid = InstrumentId("alpha", "BTC/USDT")
    state.apply(OrderIntent(ts=T0, client_order_id=wd, instrument_id=iid, side=Side.SELL, order_type=OrderType.LIMIT,
                            quantity=Decimal(1), price=Decimal(100)))  # refused before: "an archived id"
    state.apply(OrderSubmitted(ts=T0, client_order_id=wd))
    state.apply(OrderAccepted(ts=T0, client_order_id=wd, venue_order_id=VenueOrderId("w1")))
    state.apply(OrderFilled(ts=T0, client_order_id=wd, trade_id=TradeId("w1"), price=Decimal(100),
                            quantity=Decimal(1), fee=Decimal(0), fee_asset="USDT", liquidity=Liquidity.TAKER))
    for snap in _snapshots(state, T0):
        state.apply(snap)
    state.apply(OrdersArchived(ts=T0, client_order_ids=(wd.value,)))
    assert state.archived_seq == {"a1": 4, "a1:wd": 1} and state.is_archived(wd)
    assert last_watchdog_seq(state, "a1") == 1  # the engine's adoption goes on from number 2
