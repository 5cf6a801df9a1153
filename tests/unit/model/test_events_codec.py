"""Event encoding: stable, versioned, strict."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from nonstop.errors import ModelError
from nonstop.model import (
    AlertRecorded,
    Balance,
    BalanceChanged,
    BalanceSnapshot,
    BreakerChanged,
    ClientOrderId,
    DegradationChanged,
    DifferenceKind,
    Event,
    InstrumentId,
    JournalCopied,
    JournalOutage,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderIntent,
    OrderNeverSent,
    OrderRejected,
    OrdersArchived,
    OrderSubmitted,
    OrderType,
    ReconcileDifference,
    RouteDecided,
    Side,
    TradeId,
    TradingHalted,
    TradingResumed,
    VenueIdentified,
    VenueOrderId,
    event_from_dict,
    event_types,
)
from nonstop.model.codec import encode_fields, plan

TS = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
COID = ClientOrderId.build("a1", "mm", 42)
INST = InstrumentId("binance-a", "BTC/USDT")


def one_of_each() -> list[Event]:
    c = {"ts": TS, "client_order_id": COID}
    return [
        OrderIntent(**c, instrument_id=INST, side=Side.BUY, order_type=OrderType.LIMIT,
                    quantity=Decimal("0.00100"), price=Decimal("60000.10")),
        OrderSubmitted(**c),
        OrderAccepted(**c, venue_order_id=VenueOrderId("8812")),
        OrderRejected(**c, reason="-2010 insufficient balance"),
        OrderInDoubt(**c, reason="timeout after send"),
        OrderFilled(**c, trade_id=TradeId("77"), price=Decimal("60000.1"), quantity=Decimal("0.0005"),
                    fee=Decimal("0.0000005"), fee_asset="BTC", liquidity=Liquidity.MAKER,
                    venue_order_id=VenueOrderId("8812")),
        OrderCancelRequested(**c),
        OrderCancelRejected(**c, reason="unknown order"),
        OrderCanceled(**c, reason="user"),
        OrderExpired(**c),
        BalanceSnapshot(ts=TS, venue="binance-a", balances=(Balance("USDT", Decimal("100.5"), Decimal("1")),),
                        includes=("binance-a|BTC/USDT|77",)),
        JournalOutage(ts=TS, started=TS, error="disk full", canceled=(COID.value,)),
        OrdersArchived(ts=TS, client_order_ids=(COID.value,)),
        TradingHalted(ts=TS, reason="daily loss limit", source="risk"),
        TradingResumed(ts=TS, reason="checked", source="cli"),
        BalanceChanged(ts=TS, venue="binance-a", asset="BTC", free=Decimal("0.1")),
        ReconcileDifference(ts=TS, venue="binance-a", kind=DifferenceKind.MISSED_FILL, detail="trade 77",
                            client_order_id=COID),
        BreakerChanged(ts=TS, scope="endpoint", name="binance-a:0", old="closed", new="open",
                       reason="5 consecutive failures"),
        AlertRecorded(ts=TS, key="venue_down:binance-a", level="critical", transition="raised",
                      title="binance-a unreachable", detail="3 failed connects in 10 s"),
        DegradationChanged(ts=TS, old="normal", new="reduce_only",
                           reasons=("1 instrument(s) without a trustworthy price", "1 feed source(s) excluded")),
        OrderNeverSent(**c, reason="unknown after recvWindow; intent 3600.0 s old"),
        JournalCopied(ts=TS, source="var/journal.sqlite table journal", upto_seq=41, order_seqs=("a1=77",)),
        VenueIdentified(ts=TS, venue="binance-a", exchange="binance", network="testnet", account="354937868"),
        RouteDecided(ts=TS, client_order_id=COID, symbol="BTC/USDT", venue="binance-b", score=Decimal("87.25"),
                     reason="best score: binance-a excluded (venue breaker open)",
                     ranking=("binance-b=87.25", "binance-a: venue breaker open")),
    ]


def test_events_every_type_is_covered_by_the_samples() -> None:
    assert {type(e).__name__ for e in one_of_each()} == set(event_types())


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: type(e).__name__)
def test_events_roundtrip_through_json_is_exact(event: Event) -> None:
    data = json.loads(json.dumps(event.to_dict()))
    back = event_from_dict(data)
    assert back == event and type(back) is type(event)
    assert back.to_dict() == event.to_dict()


def test_events_encoding_is_stable() -> None:
    fill = one_of_each()[5]
    d = fill.to_dict()
    assert d == {
        "v": 1, "type": "OrderFilled", "ts": "2026-03-01T12:00:00.123456+00:00", "event_id": fill.event_id,
        "client_order_id": "ns-a1-mm-16", "trade_id": "77", "price": "60000.1", "quantity": "0.0005",
        "fee": "5E-7", "fee_asset": "BTC", "liquidity": "MAKER", "venue_order_id": "8812",
    }


def test_events_decimal_exponent_is_preserved() -> None:
    intent = one_of_each()[0]
    assert intent.to_dict()["quantity"] == "0.00100"
    assert str(event_from_dict(intent.to_dict()).quantity) == "0.00100"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.update(v=2), "schema version"),
        (lambda d: d.pop("v"), "schema version"),
        (lambda d: d.update(type="OrderTeleported"), "unknown event type"),
        (lambda d: d.update(extra=1), "unexpected keys"),
        (lambda d: d.pop("price"), "missing key 'price'"),
        (lambda d: d.update(price=60000.1), "price"),
        (lambda d: d.update(price="NaN"), "price"),
        (lambda d: d.update(quantity="abc"), "quantity"),
        (lambda d: d.update(ts="2026-03-01T12:00:00"), "ts"),
        (lambda d: d.update(ts="2026-03-01T12:00:00+02:00"), "ts"),
        (lambda d: d.update(client_order_id="someone-else"), "client_order_id"),
        (lambda d: d.update(liquidity="BOTH"), "liquidity"),
        (lambda d: d.update(trade_id=None), "trade_id"),
    ],
)
def test_events_decode_bad_dict_raises_naming_the_problem(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    data = one_of_each()[5].to_dict()
    mutate(data)
    with pytest.raises(ModelError, match=needle):
        event_from_dict(data)


def test_events_construct_with_float_or_naive_time_raises() -> None:
    with pytest.raises(ModelError, match=r"free=0\.1 must be Decimal"):
        BalanceChanged(ts=TS, venue="v", asset="BTC", free=0.1)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="UTC"):
        OrderSubmitted(ts=datetime(2026, 1, 1), client_order_id=COID)
    with pytest.raises(ModelError, match="UTC"):
        OrderSubmitted(ts=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1))), client_order_id=COID)


def test_events_intent_price_rules_are_enforced() -> None:
    base = {"ts": TS, "client_order_id": COID, "instrument_id": INST, "side": Side.SELL, "quantity": Decimal(1)}
    with pytest.raises(ModelError, match="needs a price"):
        OrderIntent(**base, order_type=OrderType.LIMIT)
    with pytest.raises(ModelError, match="no price"):
        OrderIntent(**base, order_type=OrderType.MARKET, price=Decimal(1))
    with pytest.raises(ModelError, match="quantity"):
        OrderIntent(**{**base, "quantity": Decimal(0)}, order_type=OrderType.MARKET)


def test_events_degradation_changed_unknown_level_raises() -> None:
    with pytest.raises(ModelError, match="not one of"):
        DegradationChanged(ts=TS, old="normal", new="panicking")
    data = one_of_each()[-1].to_dict()
    data["reasons"] = "not a list"
    with pytest.raises(ModelError, match="reasons"):
        event_from_dict(data)


def test_events_are_immutable_and_ids_unique() -> None:
    a, b = OrderSubmitted(ts=TS, client_order_id=COID), OrderSubmitted(ts=TS, client_order_id=COID)
    assert a.event_id != b.event_id
    with pytest.raises(AttributeError):
        a.ts = TS  # type: ignore[misc]


def test_events_a_field_added_later_decodes_to_its_default_from_an_old_payload() -> None:
    old = BalanceSnapshot(ts=TS, venue="binance-a", balances=()).to_dict()
    del old["includes"]  # as written before the field existed
    assert event_from_dict(old) == BalanceSnapshot(ts=TS, venue="binance-a", balances=(), event_id=old["event_id"])


@pytest.mark.parametrize("event", [*one_of_each(), OrderIntent(ts=TS, client_order_id=COID, instrument_id=INST,
                                                               side=Side.SELL, order_type=OrderType.MARKET,
                                                               quantity=Decimal("1"), price=None)],
                         ids=lambda e: type(e).__name__)
def test_events_compiled_encoder_writes_what_the_field_plan_says(event: Event) -> None:
    # each class's encoder is generated from its field plan: the same dict as the plan applied field by field
    by_plan = {p.name: None if getattr(event, p.name) is None else p.encode(getattr(event, p.name))
               for p in plan(type(event))}
    assert encode_fields(event) == by_plan
    assert list(encode_fields(event)) == list(by_plan)
