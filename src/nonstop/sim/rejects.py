"""Binance's error responses: `{"code": -NNNN, "msg": "..."}` with the HTTP status Binance uses."""

from __future__ import annotations


class BinanceReject(Exception):
    """A request the simulated venue refuses, rendered exactly as Binance would."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceReject:
    return BinanceReject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_chars(name: str) -> BinanceReject:
    return BinanceReject(
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
    )


INVALID_SYMBOL = BinanceReject(-1121, "Invalid symbol.")
UNKNOWN_ORDER = BinanceReject(-2011, "Unknown order sent.")
NO_SUCH_ORDER = BinanceReject(-2013, "Order does not exist.")
INSUFFICIENT_BALANCE = BinanceReject(-2010, "Account has insufficient balance for requested action.")
DUPLICATE_ORDER = BinanceReject(-2010, "Duplicate order sent.")
WOULD_TAKE = BinanceReject(-2010, "Order would immediately match and take.")
BAD_SIGNATURE = BinanceReject(-1022, "Signature for this request is not valid.")
BAD_API_KEY_FORMAT = BinanceReject(-2014, "API-key format invalid.", status=401)
BAD_API_KEY = BinanceReject(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
STALE_TIMESTAMP = BinanceReject(-1021, "Timestamp for this request is outside of the recvWindow.")
AHEAD_TIMESTAMP = BinanceReject(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
MAINTENANCE = BinanceReject(1, "System is under maintenance.", status=503)
UNKNOWN = BinanceReject(-1000, "An unknown error occurred while processing the request.", status=500)


def filter_failure(name: str) -> BinanceReject:
    return BinanceReject(-1013, f"Filter failure: {name}")
