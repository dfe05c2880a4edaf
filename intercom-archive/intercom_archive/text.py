"""Intercom's HTML bodies as plain text (pure): block tags become line breaks, entities decoded."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "blockquote", "pre", "tr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.chunks.append("\n")
        elif tag == "img":
            # An image has no text; its address is what a reader can follow.
            src = dict(attrs).get("src")
            if src:
                self.chunks.append(f"[image {src}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def plain_text(body: str | None) -> str:
    """`<p>Hi &amp; <b>bye</b></p><p>x</p>` -> `Hi & bye\\nx`; None -> ``."""
    if not body:
        return ""
    parser = _Text()
    parser.feed(body)
    parser.close()
    text = "".join(parser.chunks)
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
