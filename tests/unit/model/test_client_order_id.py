"""Client order ids: deterministic, unique, parseable, within venue rules (invariant 2)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nonstop.errors import InvalidIdentifier
from nonstop.model import ClientOrderId, ClientOrderIdFactory, InstrumentId, TradeId, VenueOrderId
from nonstop.model.identifiers import MAX_SEQ

BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
BYBIT = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
part = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
strategy_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)


def test_client_order_id_build_then_parse_returns_parts() -> None:
    coid = ClientOrderId.build("a1", "mm", 36 * 36 + 5)
    assert coid.value == "ns-a1-mm-105"
    parsed = ClientOrderId.parse("ns-a1-mm-105")
    assert (parsed.instance, parsed.strategy, parsed.seq) == ("a1", "mm", 36 * 36 + 5)
    assert parsed == coid


@given(part, strategy_part, st.integers(1, MAX_SEQ))
def test_client_order_id_any_valid_parts_roundtrip_within_venue_rules(inst: str, strat: str, seq: int) -> None:
    coid = ClientOrderId.build(inst, strat, seq)
    assert ClientOrderId.parse(coid.value) == coid
    assert (coid.instance, coid.strategy, coid.seq) == (inst, strat, seq)
    assert BINANCE.match(coid.value) and BYBIT.match(coid.value)
    assert len(coid.value) <= 32
    assert coid.value.startswith(ClientOrderId.prefix(inst))


def test_client_order_id_longest_fits_binance_and_32_chars() -> None:
    coid = ClientOrderId.build("a" * 8, "b" * 10, MAX_SEQ)
    assert len(coid.value) == 31
    assert BINANCE.match(coid.value)


def test_client_order_id_is_deterministic_and_distinct_across_instances() -> None:
    assert ClientOrderId.build("a1", "mm", 7) == ClientOrderId.build("a1", "mm", 7)
    assert ClientOrderId.build("a1", "mm", 7) != ClientOrderId.build("a2", "mm", 7)
    assert ClientOrderId.build("a1", "mm", 7) != ClientOrderId.build("a1", "mm", 8)


def test_client_order_id_prefix_does_not_match_longer_instance() -> None:
    assert not ClientOrderId.build("a10", "mm", 1).value.startswith(ClientOrderId.prefix("a1"))
    assert ClientOrderId.is_ours("ns-a1-mm-1", "a1")
    assert not ClientOrderId.is_ours("ns-a10-mm-1", "a1")
    assert not ClientOrderId.is_ours("x-abcdef123", None)
    assert not ClientOrderId.is_ours("web_7d1f8c", None)


@pytest.mark.parametrize(
    ("instance", "strategy", "seq"),
    [("", "mm", 1), ("A1", "mm", 1), ("a-1", "mm", 1), ("a" * 9, "mm", 1), ("a1", "m" * 11, 1),
     ("a1", "mm", 0), ("a1", "mm", -1), ("a1", "mm", MAX_SEQ + 1), ("a1", "m_m", 1)],
)
def test_client_order_id_build_with_bad_part_raises(instance: str, strategy: str, seq: int) -> None:
    with pytest.raises(InvalidIdentifier):
        ClientOrderId.build(instance, strategy, seq)


@pytest.mark.parametrize("text", ["", "ns-a1-mm", "ns-a1-mm-0a", "NS-a1-mm-1", "ns-a1-mm-1-2", "ns-a1-mm-Z",
                                  "ns-a1-mm-123456789", "xx-a1-mm-1"])
def test_client_order_id_parse_foreign_text_raises(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="client order id"):
        ClientOrderId.parse(text)


def test_client_order_id_factory_continues_after_restart_without_reuse() -> None:
    first = ClientOrderIdFactory("a1")
    used = {first.next("mm").value for _ in range(50)}
    restarted = ClientOrderIdFactory("a1", last_seq=first.last_seq)
    after = {restarted.next("mm").value for _ in range(50)}
    assert len(used) == 50 and not used & after
    assert restarted.next("arb").seq == 101


def test_instrument_id_parse_and_str_roundtrip() -> None:
    iid = InstrumentId.parse("binance-a:BTC/USDT")
    assert (iid.venue, iid.symbol, iid.base, iid.quote) == ("binance-a", "BTC/USDT", "BTC", "USDT")
    assert str(iid) == "binance-a:BTC/USDT"
    assert InstrumentId.parse("bybit:BTC/USDT:USDT").quote == "USDT"


@pytest.mark.parametrize("text", ["BTC/USDT", "binance-a:btc/usdt", "Binance:BTC/USDT", "binance-a:BTCUSDT"])
def test_instrument_id_parse_bad_text_raises(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        InstrumentId.parse(text)


def test_venue_ids_reject_empty_and_control_characters() -> None:
    assert str(VenueOrderId("123")) == "123" and str(TradeId("9")) == "9"
    for bad in ("", "a\nb", "x" * 129):
        with pytest.raises(InvalidIdentifier):
            VenueOrderId(bad)
        with pytest.raises(InvalidIdentifier):
            TradeId(bad)
    assert VenueOrderId("1") != TradeId("1")
