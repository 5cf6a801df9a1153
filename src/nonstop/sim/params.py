"""The parameters of one Binance API call: merged query and body, validated the way Binance does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from nonstop.sim import rejects
from nonstop.sim.rejects import BinanceReject

if TYPE_CHECKING:
    from nonstop.sim.runtime import VenueRuntime

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INTEGER = re.compile(r"^[0-9]{1,20}$")
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


class Call:
    """One parsed API call: merged query+body params, and the account when signed."""

    def __init__(self, params: Mapping[str, str], account: str | None, now_ms: int, *, sender: str = "") -> None:
        self.params = params
        self.account = account or ""
        self.sender = sender  # the label of the API key that signed it (see `auth.SignedBy`)
        self.now_ms = now_ms

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.params.get(name)
        if value in (None, ""):
            if required:
                raise rejects.mandatory(name)
            return None
        return value

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise rejects.illegal_chars(name)
        return Decimal(value)

    def integer(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return default
        if not _INTEGER.match(value):
            raise BinanceReject(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
            )
        return int(value)

    def symbol(self, rt: VenueRuntime, *, required: bool = True) -> str | None:
        value = self.text("symbol", required=required)
        if value is None:
            return None
        rt.venue.spec(value.upper())
        return value.upper()

    def choice(self, name: str, allowed: tuple[str, ...], code: int, msg: str, *, required: bool = True) -> str | None:
        value = self.text(name, required=required)
        if value is not None and value not in allowed:
            raise BinanceReject(code, msg)
        return value


def parse_form(raw: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except ValueError:
        raise BinanceReject(-1101, "Too many parameters; expected at most 200.") from None
