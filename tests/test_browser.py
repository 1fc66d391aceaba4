"""The site in a real browser (headless Debian Chromium driven by Playwright), served on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import quote, urlparse

import pytest

pytestmark = pytest.mark.browser


def open_page(browser, url: str, **context):
    """Open url; return (page, console errors, requests that left 127.0.0.1)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    errors, foreign = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def on_request(req):
        u = urlparse(req.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname != "127.0.0.1":
            foreign.append(req.url)

    page.on("request", on_request)
    page.goto(url, wait_until="networkidle")
    return page, errors, foreign


@pytest.mark.parametrize("docname", ["index", "04Train/01ParallelBegin/README"])
def test_page_loads_clean(browser, server, docname):
    page, errors, foreign = open_page(browser, f"{server}/{docname}.html")
    assert page.locator("h1").count() == 1
    assert not errors, f"console errors on {docname}: {errors}"
    assert not foreign, f"requests leaving 127.0.0.1 from {docname}: {foreign}"
    page.context.close()


def test_chinese_search_finds_the_page(browser, server):
    page, errors, foreign = open_page(browser, f"{server}/search.html?q={quote('流水线并行')}")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=15000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("04Train/01ParallelBegin/README.html" in h for h in hrefs), hrefs
    assert not errors, errors
    assert not foreign, foreign
    page.context.close()


def test_theme_switch_turns_the_page_dark(browser, server):
    page, errors, _ = open_page(browser, f"{server}/index.html", color_scheme="light")
    html = page.locator("html")
    assert html.get_attribute("data-theme") == "light"
    page.locator(".theme-switch-button:visible").first.click()      # opens the colour-mode menu
    page.locator(".theme-change-button[data-mode=dark]:visible").first.click()
    assert html.get_attribute("data-theme") == "dark"
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = [int(x) for x in bg[bg.index("(") + 1: bg.index(")")].split(",")[:3]]
    assert r + g + b < 150, f"body background is not dark: {bg}"
    assert not errors, errors
    page.context.close()


def test_code_blocks_have_copy_buttons(browser, server, site):
    with_code = [p for p in site.pages() if 'class="highlight' in p.read_text(encoding="utf-8")]
    assert with_code, "no page has a code block"
    rel = with_code[0].relative_to(site.out).as_posix()
    page, errors, _ = open_page(browser, f"{server}/{rel}")
    page.locator("div.highlight button.copybtn").first.wait_for(state="attached", timeout=10000)
    assert not errors, errors
    page.context.close()


def test_copy_leaves_out_prompts_and_output(browser, server, site):
    """Copying a shell session gives the commands only: no `$ ` prompt, no output lines."""
    target = None
    for p in site.pages():
        text = p.read_text(encoding="utf-8")
        if 'class="highlight-console' in text:
            target = p.relative_to(site.out).as_posix()
            break
    assert target, "no page has a console code block (```console with `$ ` prompts)"
    page, errors, _ = open_page(browser, f"{server}/{target}")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    block = page.locator("div.highlight-console").first
    # as a reader would: scroll to it (off-screen sections are not rendered, and have no innerText)
    block.scroll_into_view_if_needed()
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    source = block.locator("pre").inner_text()
    block.hover()
    block.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    commands = [line[2:] for line in source.splitlines() if line.startswith("$ ")]
    assert commands and copied.strip().splitlines() == commands, (source, copied)
    assert not errors, errors
    page.context.close()
