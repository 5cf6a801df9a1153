"""The router's pure core: eligibility is absolute, then health and price decide."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from nonstop.model import Balance, Side
from nonstop.routing.scoring import VenueHealth, VenueOffer, decide, has_balance

D = Decimal


def offer(venue: str, price: str | None = "100", *, listed: bool = True, balance: bool = True) -> VenueOffer:
    return VenueOffer(venue, listed, balance, None if price is None else D(price))


def test_decide_healthy_venues_best_price_wins() -> None:
    d = decide(Side.BUY, [VenueHealth("a"), VenueHealth("b")], [offer("a", "100.5"), offer("b", "100")])
    assert d.venue == "b" and d.ranking[0].venue == "b" and d.ranking[1].score < d.score
    d = decide(Side.SELL, [VenueHealth("a"), VenueHealth("b")], [offer("a", "100.5"), offer("b", "100")])
    assert d.venue == "a"


def test_decide_a_downed_venue_is_never_chosen_whatever_its_price() -> None:
    down = VenueHealth("a", breaker="open")
    d = decide(Side.BUY, [down, VenueHealth("b")], [offer("a", "1"), offer("b", "100")])
    assert d.venue == "b"
    assert "a (venue breaker open)" in d.reason
    assert d.ranking_texts()[-1] == "a: venue breaker open"
    both = VenueHealth("a", stream_down=True, rest_down=True)
    assert decide(Side.BUY, [both, VenueHealth("b")], [offer("a"), offer("b")]).venue == "b"


def test_decide_unlisted_or_unfunded_venue_is_never_chosen() -> None:
    d = decide(Side.BUY, [], [offer("a", "1", listed=False), offer("b", "1", balance=False), offer("c", "200")])
    assert d.venue == "c"
    none = decide(Side.BUY, [], [offer("a", listed=False), offer("b", balance=False)])
    assert none.venue is None
    assert "a does not list the instrument" in none.reason and "b not enough balance" in none.reason


def test_decide_health_outweighs_a_small_price_edge() -> None:
    sick = VenueHealth("a", breaker="half_open", error_rate=0.5, latency_p99_s=1.5, recent_rejects=3)
    d = decide(Side.BUY, [sick, VenueHealth("b")], [offer("a", "99.99"), offer("b", "100")])
    assert d.venue == "b"


def test_decide_ties_go_to_the_first_configured_venue() -> None:
    assert decide(Side.BUY, [], [offer("b"), offer("a")]).venue == "b"


def test_has_balance_checks_quote_for_buys_and_base_for_sells() -> None:
    bal = {"USDT": Balance("USDT", D(100), D(0)), "BTC": Balance("BTC", D("0.5"), D(0))}
    assert has_balance(bal, "BTC/USDT", Side.BUY, D(1), D(100))
    assert not has_balance(bal, "BTC/USDT", Side.BUY, D(1), D("100.01"))
    assert not has_balance(bal, "BTC/USDT", Side.BUY, D(1), None)
    assert has_balance(bal, "BTC/USDT", Side.SELL, D("0.5"), None)
    assert not has_balance(bal, "BTC/USDT", Side.SELL, D("0.6"), D(1))
    assert not has_balance({}, "BTC/USDT", Side.SELL, D("0.1"), D(1))


health_st = st.builds(
    VenueHealth, st.sampled_from(["a", "b", "c"]), breaker=st.sampled_from(["closed", "half_open", "open"]),
    endpoints_open_share=st.floats(0, 1), latency_p99_s=st.none() | st.floats(0, 100), error_rate=st.floats(0, 1),
    rate_limit_used=st.floats(0, 1), throttled=st.booleans(), recent_rejects=st.integers(0, 100),
    stream_down=st.booleans(), rest_down=st.booleans(),
)
offer_st = st.builds(VenueOffer, st.sampled_from(["a", "b", "c"]), st.booleans(), st.booleans(),
                     st.none() | st.decimals(D("0.01"), D(10_000), places=2))


@given(st.lists(health_st, max_size=3), st.lists(offer_st, max_size=3, unique_by=lambda o: o.venue),
       st.sampled_from(list(Side)))
def test_decide_never_picks_an_ineligible_venue(
    health: list[VenueHealth], offers: list[VenueOffer], side: Side
) -> None:
    d = decide(side, health, offers)
    by = {h.venue: h for h in health}
    if d.venue is None:
        assert all(not o.listed or not o.balance_ok or (o.venue in by and by[o.venue].down) for o in offers)
        return
    chosen = next(o for o in offers if o.venue == d.venue)
    assert chosen.listed and chosen.balance_ok and not (d.venue in by and by[d.venue].down)
    assert 0 <= d.score <= 100 and d.score == max(r.score for r in d.ranking)
