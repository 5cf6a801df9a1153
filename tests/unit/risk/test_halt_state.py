"""The kill switch in the state: TradingHalted until TradingResumed, through snapshots and copies."""

from __future__ import annotations

from datetime import UTC, datetime

from nonstop.model import EngineState, TradingHalted, TradingResumed

TS = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_halt_is_folded_kept_in_snapshots_and_lifted_by_a_resume() -> None:
    state = EngineState()
    before = state.state_hash()
    state.apply(TradingHalted(ts=TS, reason="daily loss limit", source="risk"), seq=1)
    assert state.halt is not None and state.halt.reason == "daily loss limit" and state.halt.source == "risk"
    again = EngineState.from_dict(state.to_dict())
    assert again == state and again.halt == state.halt and state.copy().halt == state.halt
    state.apply(TradingResumed(ts=TS, reason="reviewed"), seq=2)
    assert state.halt is None
    fresh = EngineState()
    fresh.last_seq = 2
    assert state.state_hash() == fresh.state_hash() and before != fresh.state_hash()  # no key while not halted
