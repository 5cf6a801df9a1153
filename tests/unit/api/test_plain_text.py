"""Alert text for the dashboard: an HTML error body is summarised by its title, never shown raw."""

from __future__ import annotations

import pytest

from nonstop.api.plain_text import plain


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("binance-a: 503 <html><body><h1>503 Service Temporarily Unavailable</h1><hr><center>nginx</center>"
         "</body></html>; retrying in 2 s",
         "binance-a: 503 (an HTML error page: 503 Service Temporarily Unavailable); retrying in 2 s"),
        ("<html><head><title>502 Bad Gateway</title></head><body>x</body></html>",
         "An HTML error page: 502 Bad Gateway"),
        # two pages, the second cut off by a length limit
        ("a 503 <html><body><h1>503 X</h1></body></html> [class=u] b 503 <html><body><h1>503 Service Unav",
         "a 503 (an HTML error page: 503 X) [class=u] b 503 (an HTML error page: 503 Service Unav)"),
        ("5 failures: GET 503 Service Unavailable <html",
         "5 failures: GET 503 Service Unavailable (an HTML error page)"),
        ("x <br> y", "x  y"),
        ("bid < ask and 5 > 3", "bid < ask and 5 > 3"),
        ("no markup at all", "no markup at all"),
    ],
)
def test_html_is_summarised_never_shown(raw: str, shown: str) -> None:
    assert plain(raw) == shown
    assert "<html" not in plain(raw).lower() and "<h1" not in plain(raw).lower()
