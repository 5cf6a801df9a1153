"""Secret scrubbing for free text that leaves the process (alerts, health reasons, label values).

`logs.py` redacts structured log fields whose *key* looks secret; alert text is free prose, so
here the same key pattern is applied to `key=value` / `"key": "value"` pairs inside the text, plus
credentials embedded in URLs (`scheme://user:pass@host`), `Bearer` tokens, long key-like strings
(exchange API keys and secrets are 64 alphanumerics) and any literal secret registered with the
scrubber (API keys, channel URLs) - the last one catches a secret in any format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nonstop.logs import _SECRET_KEYS

MASK = "***"

# key=value, key: value, "key": "value", ?key=value& - the key matched by logs.py's pattern.
_KEY_VALUE = re.compile(
    r"""(?P<key>["']?[\w.-]*(?:""" + _SECRET_KEYS.pattern + r""")[\w.-]*["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<q>["']?)(?P<value>[^\s"'&,;}\])]+)""",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/\s@]+)@", re.IGNORECASE)
_BEARER = re.compile(r"\b(?P<kind>Bearer)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# 32+ characters of letters and digits mixed (hex digests, API keys); order ids stay below 36 and
# carry separators, prices are digits only.
_KEYLIKE = re.compile(r"\b(?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{32,}\b")
_MIN_LITERAL = 6  # shorter registered "secrets" would mask ordinary words


class Scrubber:
    """Masks secrets in text. Register literal secrets with `add`; patterns apply to all text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._literals: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str) -> None:
        """Mask this exact string wherever it appears (ignored if shorter than 6 characters)."""
        if len(secret) >= _MIN_LITERAL:
            self._literals.add(secret)

    def scrub(self, text: str) -> str:
        """Return `text` with every secret replaced by `***`."""
        for literal in sorted(self._literals, key=len, reverse=True):  # longest first: a URL before its password
            text = text.replace(literal, MASK)
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
        text = _BEARER.sub(lambda m: f"{m['kind']} {MASK}", text)
        text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{m['q']}{MASK}", text)
        return _KEYLIKE.sub(MASK, text)

    def is_clean(self, text: str) -> bool:
        """True when scrubbing would not change `text`."""
        return self.scrub(text) == text


default_scrubber = Scrubber()


def scrub(text: str) -> str:
    """Scrub with the patterns only (no registered literals)."""
    return default_scrubber.scrub(text)
