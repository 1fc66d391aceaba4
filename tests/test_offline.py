"""Nothing on a built page comes from another site: scripts, styles, fonts, images, frames."""

from __future__ import annotations

from htmlscan import css_urls, is_remote, scan


def test_no_page_loads_a_remote_resource(site):
    offenders = []
    for page in site.pages():
        s = scan(page.read_text(encoding="utf-8"))
        for tag, url in s.resources:
            if is_remote(url):
                offenders.append(f"{page.relative_to(site.out)}: <{tag}> {url}")
        for style in s.inline_styles:
            offenders += [f"{page.relative_to(site.out)}: inline style url({u})"
                          for u in css_urls(style) if is_remote(u)]
    assert not offenders, "remote resources:\n" + "\n".join(offenders)


def test_no_stylesheet_loads_a_remote_resource(site):
    offenders = []
    for css in (site.out / "_static").rglob("*.css"):
        for url in css_urls(css.read_text(encoding="utf-8", errors="replace")):
            if is_remote(url):
                offenders.append(f"{css.relative_to(site.out)}: {url}")
    assert not offenders, "remote URLs in stylesheets:\n" + "\n".join(offenders)


def test_scanner_sees_remote_resources():
    """The scanner itself: each way of loading something from elsewhere is noticed."""
    page = """<html lang="zh-CN"><head>
    <script src="https://cdn.example.org/x.js"></script>
    <link rel="stylesheet" href="//cdn.example.org/x.css">
    <link rel="preload" href="https://fonts.example.org/f.woff2">
    <style>@font-face { src: url(https://fonts.example.org/f.woff2) }</style>
    </head><body><img src="http://example.org/a.png"><iframe src="https://v.example.org/"></iframe>
    <a href="https://example.org/">a plain link is fine</a></body></html>"""
    s = scan(page)
    remote = [u for _, u in s.resources if is_remote(u)]
    assert len(remote) == 5
    assert [u for st in s.inline_styles for u in css_urls(st) if is_remote(u)] == ["https://fonts.example.org/f.woff2"]
    assert s.html_lang == "zh-CN"
