"""Small HTML helpers for the tests (stdlib only)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# (tag, attribute) pairs through which a page loads a resource
RESOURCE_ATTRS = {
    ("script", "src"), ("img", "src"), ("img", "srcset"), ("iframe", "src"), ("embed", "src"),
    ("object", "data"), ("source", "src"), ("source", "srcset"), ("video", "src"),
    ("video", "poster"), ("audio", "src"), ("track", "src"), ("input", "src"),
    ("image", "href"), ("use", "href"),
}
LINK_LOADING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut icon",
                     "apple-touch-icon", "manifest", "prefetch", "dns-prefetch", "preconnect"}


class Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html_lang: str | None = None
        self.links: list[str] = []              # <a href>
        self.resources: list[tuple[str, str]] = []  # (tag, url) loaded by the page
        self.inline_styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for attr, value in attrs:
            if value and (tag, attr) in RESOURCE_ATTRS:
                self.resources.append((tag, value))
            if attr == "style" and value:
                self.inline_styles.append(value)
        if tag == "link" and a.get("href"):
            rels = (a.get("rel") or "").lower()
            if rels in LINK_LOADING_RELS or set(rels.split()) & LINK_LOADING_RELS:
                self.resources.append(("link", a["href"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.inline_styles.append(data)


def scan(text: str) -> Scan:
    s = Scan()
    s.feed(text)
    return s


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def css_urls(css: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(css)]


def is_remote(url: str) -> bool:
    """True for a URL that leaves the site: an absolute http(s) URL or a protocol-relative one."""
    u = url.strip().lower()
    return u.startswith(("http://", "https://", "//", "ftp://"))
