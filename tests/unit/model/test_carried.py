"""The carried books' format: per (strategy, quote currency) books round-trip exactly (format 2); a
section of format 1 (one book per strategy, before per-quote books) loads when it lost nothing and is
refused, saying why, when it left another quote currency's fills out."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from tests.fillkit import T0, carried_as_format_1, fill_order

from nonstop.errors import ModelError
from nonstop.model import Balance, BalanceSnapshot, EngineState, Event, InstrumentId, OrdersArchived, Side
from nonstop.status_figures import strategy_pnl

ETH_USDT = InstrumentId("alpha", "ETH/USDT")
ETH_BTC = InstrumentId("alpha", "ETH/BTC")


def archived_journal(*, two_quotes: bool) -> list[Event]:
    """Strategy mm buys ETH/USDT (and ETH/BTC), every fill seen by a balance snapshot, then archived."""
    state = EngineState()
    events = fill_order(state, 1, ETH_USDT, Side.BUY, "1", "3000", fee="1")
    if two_quotes:
        events += fill_order(state, 2, ETH_BTC, Side.BUY, "2", "0.05", ts=T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=2)
    events += [BalanceSnapshot(ts=later, venue="alpha", balances=(Balance("USDT", Decimal(1000)),),
                               includes=tuple(state.balance_pending["alpha"])),
               OrdersArchived(ts=later, client_order_ids=tuple(sorted(state.orders)))]
    return events


def archived_state(*, two_quotes: bool) -> EngineState:
    state = EngineState()
    for n, event in enumerate(archived_journal(two_quotes=two_quotes), 1):
        state.apply(event, seq=n)
    assert not state.fills and state.carried.fills == (2 if two_quotes else 1)
    return state


def test_a_strategy_s_books_per_quote_currency_round_trip_in_format_2() -> None:
    state = archived_state(two_quotes=True)
    carried = state.to_dict()["carried"]
    assert carried["format"] == 2 and set(carried["strategy_books"]["mm"]) == {"BTC", "USDT"}
    assert carried["day_strategy_books"] == carried["strategy_books"]
    restored = EngineState.from_dict(json.loads(state.canonical_json()))
    assert restored.canonical_json() == state.canonical_json()
    assert strategy_pnl(restored) == strategy_pnl(state)
    assert set(strategy_pnl(state)["mm"]) == {"BTC", "USDT"}


def test_a_format_1_section_that_left_nothing_out_loads_as_per_quote_books() -> None:
    state = archived_state(two_quotes=False)
    data = state.to_dict()
    data["carried"] = carried_as_format_1(data["carried"], {"mm": "USDT"})
    assert "format" not in data["carried"] and data["carried"]["strategies"]["mm"]["other_quote"] == []
    restored = EngineState.from_dict(data)
    assert restored.canonical_json() == state.canonical_json()  # written back in format 2, the same books


def test_a_format_1_section_that_left_a_quote_out_is_refused_saying_why() -> None:
    data = archived_state(two_quotes=True).to_dict()
    data["carried"] = carried_as_format_1(data["carried"], {"mm": "USDT"})
    with pytest.raises(ModelError, match=r"format 1 .*'mm' left out the fills of alpha:ETH/BTC .*rebuilt from "
                                         r"the journal"):
        EngineState.from_dict(data)


def test_an_unknown_carried_format_is_refused() -> None:
    data = archived_state(two_quotes=False).to_dict()
    data["carried"]["format"] = 3
    with pytest.raises(ModelError, match="format 3 are not supported"):
        EngineState.from_dict(data)
