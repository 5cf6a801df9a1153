"""One parsed OKX v5 call (query or JSON body, the account when signed) and OKX's request signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any

from nonstop.sim import okx_rejects


def sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


class OkxCall:
    """One parsed call: its parameters (query or JSON body), the account when signed, the time."""

    def __init__(self, params: dict[str, Any], batch: list[dict[str, Any]], account: str, now_ms: int) -> None:
        self.params = params
        self.batch = batch
        self.account = account
        self.now_ms = now_ms

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value in (None, ""):
            if required:
                raise okx_rejects.missing(name)
            return None
        return str(value)

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise okx_rejects.bad_param(name) from None
        if not d.is_finite() or d <= 0:
            raise okx_rejects.bad_param(name)
        return d

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isdigit():
            raise okx_rejects.bad_param(name)
        return int(value)
