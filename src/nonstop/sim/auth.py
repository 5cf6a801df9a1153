"""Binance request signing, as the venue checks it: API key, HMAC-SHA256, timestamp, recvWindow."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from nonstop.sim import rejects
from nonstop.sim.records import Account
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.venue import SimVenue

MAX_RECV_WINDOW = 60_000


def split_signature(raw: str) -> tuple[str, str | None]:
    """Return (`raw` without its `signature=` parameter, the signature) without re-encoding."""
    parts = raw.split("&") if raw else []
    kept = [p for p in parts if not p.startswith("signature=")]
    sigs = [p[len("signature=") :] for p in parts if p.startswith("signature=")]
    return "&".join(kept), (sigs[-1] if sigs else None)


@dataclass(frozen=True)
class SignedBy:
    """The API key a request is signed with: its account, secret and label (the account's own key is
    labelled "primary"; extra keys of the same account, like Binance's several keys per account, carry
    the label they were created with). The label is what the venue records as an order's sender."""

    account: Account
    secret: str = field(repr=False)
    label: str = "primary"


def key_holder(venue: SimVenue, api_key: str | None) -> SignedBy:
    if not api_key:
        raise rejects.BAD_API_KEY_FORMAT
    account = venue.accounts.get(api_key)
    if account is not None and account.secret:
        return SignedBy(account, account.secret)
    extra = venue.api_keys.get(api_key)
    if extra is None:
        raise rejects.BAD_API_KEY
    owner, secret, label = extra
    return SignedBy(venue.accounts[owner], secret, label)


def account_for_key(venue: SimVenue, api_key: str | None) -> Account:
    return key_holder(venue, api_key).account


def check_signature(key: Account | SignedBy, payload: str, signature: str | None) -> None:
    if not signature:
        raise rejects.mandatory("signature")
    expected = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise rejects.BAD_SIGNATURE


def check_timestamp(params: Mapping[str, str], now_ms: int) -> None:
    raw_ts = params.get("timestamp")
    if not raw_ts:
        raise rejects.mandatory("timestamp")
    if not raw_ts.isdigit():
        raise BinanceReject(-1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.")
    raw_window = params.get("recvWindow", "5000")
    if not raw_window.isdigit():
        raise BinanceReject(
            -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}$'."
        )
    window = int(raw_window)
    if window > MAX_RECV_WINDOW:
        raise BinanceReject(-1131, "recvWindow must be less than 60000")
    ts = int(raw_ts)
    if ts >= now_ms + 1000:
        raise rejects.AHEAD_TIMESTAMP
    if now_ms - ts > window:
        raise rejects.STALE_TIMESTAMP
