"""The degradation ladder (down at once, up one step at a time with hysteresis) and the reduce-only gate."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nonstop.clock import ManualClock
from nonstop.model import Side
from nonstop.strategy.base import Cancel, Place
from nonstop.strategy.degradation import (
    DegradationInputs,
    DegradationLadder,
    DegradationSettings,
    Level,
    LevelChanged,
    gate,
    reduces_exposure,
)
from tests.unit.strategy.kit import IID, order

pytestmark = pytest.mark.timeout(20)
D = Decimal


def ladder(recover_after_s: float = 10.0) -> tuple[ManualClock, DegradationLadder]:
    clock = ManualClock()
    return clock, DegradationLadder(clock, DegradationSettings(recover_after_s=recover_after_s))


def test_ladder_rate_limit_pressure_steps_down_then_back_up_with_hysteresis() -> None:
    clock, lad = ladder()
    changes: list[LevelChanged] = []

    def feed(share: float) -> None:
        change = lad.update(DegradationInputs(rate_limit_share=share))
        if change is not None:
            changes.append(change)

    feed(0.3)
    assert lad.level is Level.NORMAL and not changes
    feed(0.65)
    assert lad.level is Level.REDUCED_DATA and "rate-limit weight at 65%" in changes[-1].reasons
    feed(0.85)
    assert lad.level is Level.FALLBACK
    feed(0.75)  # above fallback_at - hysteresis: still calls for FALLBACK
    clock.advance(60)
    feed(0.75)
    assert lad.level is Level.FALLBACK
    feed(0.1)  # pressure ends: recovery starts its calm period
    clock.advance(9.9)
    feed(0.1)
    assert lad.level is Level.FALLBACK
    clock.advance(0.2)
    feed(0.1)
    assert lad.level is Level.REDUCED_DATA  # one step only
    clock.advance(10.1)
    feed(0.1)
    assert lad.level is Level.NORMAL
    assert [(c.old, c.new) for c in changes] == [
        (Level.NORMAL, Level.REDUCED_DATA),
        (Level.REDUCED_DATA, Level.FALLBACK),
        (Level.FALLBACK, Level.REDUCED_DATA),
        (Level.REDUCED_DATA, Level.NORMAL),
    ]
    assert all(c.ts.tzinfo is not None and c.reasons for c in changes)


def test_ladder_a_relapse_restarts_the_calm_period() -> None:
    clock, lad = ladder()
    lad.update(DegradationInputs(untrusted_instruments=1))
    assert lad.level is Level.REDUCE_ONLY
    lad.update(DegradationInputs())
    clock.advance(8)
    lad.update(DegradationInputs(untrusted_instruments=1))  # back within the hold
    clock.advance(8)
    assert lad.update(DegradationInputs()) is None
    assert lad.level is Level.REDUCE_ONLY


@pytest.mark.parametrize(
    ("inputs", "level", "words"),
    [
        (DegradationInputs(endpoint_breakers_open=1), Level.REDUCED_DATA, "endpoint breaker"),
        (DegradationInputs(excluded_sources=2), Level.REDUCED_DATA, "feed source"),
        (DegradationInputs(rate_limit_paused=True), Level.REDUCE_ONLY, "Retry-After"),
        (DegradationInputs(venue_breakers_open=1, venues_total=2), Level.REDUCE_ONLY, "venue breaker"),
        (DegradationInputs(reconcile_drift=3), Level.REDUCE_ONLY, "reconciliation"),
        (DegradationInputs(venue_breakers_open=2, venues_total=2), Level.HALTED, "every venue is down"),
        (DegradationInputs(ip_banned=True), Level.HALTED, "418"),
        (DegradationInputs(manual_halt=True), Level.HALTED, "operator"),
    ],
)
def test_ladder_each_input_calls_for_its_level_with_reason(inputs: DegradationInputs, level: Level, words: str) -> None:
    _, lad = ladder()
    change = lad.update(inputs)
    assert change is not None and change.new is level and words in change.reasons[0]


def test_ladder_worst_input_wins_and_jumps_straight_down() -> None:
    _, lad = ladder()
    change = lad.update(DegradationInputs(rate_limit_share=0.7, reconcile_drift=1, manual_halt=True))
    assert change is not None and (change.old, change.new) == (Level.NORMAL, Level.HALTED)
    assert change.reasons[0] == "halted by an operator" and len(change.reasons) == 3


def test_settings_reject_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="reduced_at"):
        DegradationSettings(reduced_at=0.9, fallback_at=0.5)


def test_gate_reduce_only_rejects_exposure_increasing_and_allows_reducing() -> None:
    pos = {str(IID): D("0.01")}
    buy = Place(IID, Side.BUY, D("0.001"), D("100"))
    sell = Place(IID, Side.SELL, D("0.004"), D("100"))
    flip = Place(IID, Side.SELL, D("0.02"), D("100"))
    cancel = Cancel(order(1, Side.BUY, "0.001", "99").client_order_id)
    result = gate(Level.REDUCE_ONLY, [buy, sell, flip, cancel], pos)
    assert result.allowed == (sell, cancel)
    assert [i for i, _ in result.rejected] == [buy, flip]
    assert all("reduce-only" in why for _, why in result.rejected)


def test_gate_reduce_only_counts_open_reducing_orders() -> None:
    pos = {str(IID): D("0.01")}
    resting = [order(1, Side.SELL, "0.008", "101")]
    result = gate(Level.REDUCE_ONLY, [Place(IID, Side.SELL, D("0.003"), D("100"))], pos, resting)
    assert not result.allowed  # 0.008 + 0.003 > 0.01: together they would flip the position
    ok = gate(Level.REDUCE_ONLY, [Place(IID, Side.SELL, D("0.002"), D("100"))], pos, resting)
    assert len(ok.allowed) == 1


def test_gate_halted_only_cancels_and_normal_passes_everything() -> None:
    place = Place(IID, Side.SELL, D("0.001"), D("100"))
    cancel = Cancel(order(1, Side.BUY, "0.001", "99").client_order_id)
    halted = gate(Level.HALTED, [place, cancel], {str(IID): D("1")})
    assert halted.allowed == (cancel,) and "halted" in halted.rejected[0][1]
    assert gate(Level.FALLBACK, [place, cancel], {}).allowed == (place, cancel)


@given(
    position=st.decimals(min_value=D("-5"), max_value=D("5"), places=3),
    qty=st.decimals(min_value=D("0.001"), max_value=D("10"), places=3),
    side=st.sampled_from(list(Side)),
)
def test_reduces_exposure_property_never_grows_abs_position(position: Decimal, qty: Decimal, side: Side) -> None:
    after = position + side.sign * qty
    if reduces_exposure(side, qty, position):
        assert abs(after) < abs(position)
        assert after == 0 or (after > 0) == (position > 0)
    else:
        assert abs(after) >= abs(position) or (after != 0 and (after > 0) != (position > 0))
