"""Alert and error text as plain sentences for the dashboard: an HTML error body (a proxy's or a
venue's `<html><body><h1>503 Service Temporarily Unavailable</h1>...`, carried into an error message)
is summarised by its title, never shown raw; any other tag is dropped. Python's own `html.parser`
does the reading (a regex would stumble over comments and attributes)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HTML_START = re.compile(r"<\s*(!doctype|html|head|body|title|h[1-6]|center|p|div|pre)\b", re.IGNORECASE)
_HTML_END = re.compile(r"</\s*html\s*>", re.IGNORECASE)
_TAGS = r"<\s*/?\s*(html|head|body|title|h[1-6]|center|hr|br|p|div|pre)\b[^<>]*"
_STRAY = re.compile(_TAGS + r"(>|$)", re.IGNORECASE)
_HEADINGS = {"title", "h1", "h2", "h3"}
MAX_SUMMARY = 120


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.heading: str | None = None
        self._in: str | None = None
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HEADINGS and self.heading is None:
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text:
            return
        if self._in is not None and self.heading is None:
            self.heading = text
        self.words.append(text)


def _summary(markup: str) -> str:
    parser = _Text()
    parser.feed(re.sub(r"<[^>]*$", "", markup))  # a tag cut off at the end says nothing
    parser.close()
    text = parser.heading or " ".join(w for w in parser.words if not w.startswith("<"))
    return text[:MAX_SUMMARY] + ("…" if len(text) > MAX_SUMMARY else "")


def plain(text: str) -> str:
    """`text` without markup: each HTML page in it (whole, or cut off by a length limit) becomes
    "(an HTML error page: <its title>)"; a stray tag left over is dropped."""
    if "<" not in text:
        return text
    pos = 0
    while (found := _HTML_START.search(text, pos)) is not None:
        close = _HTML_END.search(text, found.start())
        end = close.end() if close is not None else len(text)  # no </html>: cut off by a length limit
        summary = _summary(text[found.start():end])
        page = f"an HTML error page: {summary}" if summary else "an HTML error page"
        head, tail = text[: found.start()].rstrip(), text[end:].lstrip()
        replaced = f"{head} ({page})" if head else page[0].upper() + page[1:]
        pos = len(replaced)
        text = replaced + (("" if tail[:1] in ";,.:" else " ") + tail if tail else "")
    return _STRAY.sub("", text)
