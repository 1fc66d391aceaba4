"""_ext/aiinfra_slim.py: the purged stylesheet bundle, deferred scripts and subset icon fonts.

The decisive check is in Chromium: every element of a page must get the same computed style (and
the same ::before/::after) from the purged bundle as from the theme's original stylesheets."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_ext"))

import aiinfra_slim as slim  # noqa: E402

ORIGINALS = ["_static/basic.css", "_static/styles/pydata-sphinx-theme.css", "_static/pygments.css",
             "_static/copybutton.css", "_static/sphinx-design.min.css", "_static/aiinfra.css"]


# --- the purge, on small inputs --------------------------------------------------------------------

@pytest.mark.parametrize("selector, names", [
    (".a .b > p", {"a", "b"}),
    ("#main .c:hover", {"main", "c"}),
    ("html[data-theme=dark] .x", {"x"}),
    ('a[href$=".pdf"]', set()),
    (".a:not(.b)", {"a"}),
    (":is(.fa-solid,.fa-brands):before", set()),
    (".d:has(> .e)", {"d"}),
    (r".md\:flex", {"md:flex"}),
])
def test_selector_names(selector, names):
    assert slim.selector_names(selector) == names


def test_purge_keeps_used_rules_and_drops_the_rest():
    css = (".used{color:red}.unused{color:blue}.used .unused{margin:0}"
           ".used,.unused{padding:1px}p{line-height:2}"
           "@media (max-width:600px){.used{display:none}.unused{display:block}}"
           "@media print{.unused{color:black}}"
           "@font-face{font-family:X;src:url(x.woff2)}:root{--v:1}")
    out = slim.purge_css(css, {"used"})
    assert ".used{color:red}" in out
    assert ".used{padding:1px}" in out            # the list keeps only the selector that can match
    assert "p{line-height:2}" in out             # no class: always kept
    assert "@media (max-width:600px){.used{display:none}}" in out
    assert "@media print" not in out             # nothing left inside: the group goes too
    assert "@font-face" in out and ":root{--v:1}" in out
    assert ".unused" not in out


def test_purge_keeps_bootstrap_tooltip_placement_classes():
    out = slim.purge_css(".bs-tooltip-auto[data-popper-placement^=top] .tooltip-arrow{bottom:0}", {"tooltip-arrow"})
    assert "bs-tooltip-auto" in out


def test_purge_reports_a_css_parse_error():
    with pytest.raises(ValueError, match="unclosed block at line 1"):
        slim.purge_css(".b{color:blue} .a{color:red", {"a", "b"})


def test_html_and_js_tokens():
    html = '<div class="bd-page  pst-x" id="main"><p class="">x</p></div>'
    assert slim.html_tokens(html) == {"bd-page", "pst-x", "main"}
    assert {"show", "dropdown-menu"} <= slim.js_tokens('el.classList.add("show");q=".dropdown-menu"')


@pytest.mark.parametrize("css, expected", [
    ("a{background:url(img/x.png)}", "a{background:url(../img/x.png)}"),
    ('a{background:url("img/x.png")}', 'a{background:url("../img/x.png")}'),
    ("a{background:url(data:image/svg+xml;utf8,x)}", "a{background:url(data:image/svg+xml;utf8,x)}"),
    ("a{background:url(/abs.png)}", "a{background:url(/abs.png)}"),
    ("a{background:url(https://x.org/a.png)}", "a{background:url(https://x.org/a.png)}"),
])
def test_rebase_urls(css, expected):
    assert slim.rebase_urls(css, "../") == expected


def test_icon_codepoints_reads_escapes_and_literal_characters():
    css = ('.fa-bars{--fa:"\\f0c9"}.fa-x{--fa:"\uf00d"}.fa-0{--fa:"\\30 "}'
           'html{--pst-icon-admonition-tip:"\\f0eb"}p:before{content:"\\201c"}')
    assert slim.icon_codepoints(css) == {0xF0C9, 0xF00D, 0xF0EB}  # icons only, not "0" or a quote mark


def test_subset_font_keeps_exactly_the_requested_glyphs():
    from fontTools.ttLib import TTFont

    original = slim._original_font("fa-solid-900.woff2")
    assert original is not None, "pydata-sphinx-theme's Font Awesome font not found"
    small = slim.subset_font(original.read_bytes(), {0xF0C9, 0xF002})  # bars, magnifying-glass
    assert len(small) < original.stat().st_size / 20
    cmap = TTFont(io.BytesIO(small)).getBestCmap()
    assert {0xF0C9, 0xF002} <= set(cmap)
    assert 0xF185 not in cmap  # sun: not asked for


# --- the built site --------------------------------------------------------------------------------

LESSON = "05Infer/01Foundation/02Roofline"


def head_of(site, docname: str) -> str:
    return site.page(docname).read_text(encoding="utf-8")


def test_pages_link_the_bundle_and_not_the_theme_stylesheets(site):
    html = head_of(site, LESSON)
    links = [re.search(r'href="([^"?]+)', tag).group(1)
             for tag in re.findall(r"<link\b[^>]*>", html) if 'rel="stylesheet"' in tag]
    assert links == ["../../_static/styles/aiinfra-bundle.css"]
    assert "fontawesome.js" not in html
    assert not (site.out / "_static/scripts/fontawesome.js").exists()


def test_scripts_are_deferred_except_documentation_options(site):
    html = head_of(site, LESSON)
    scripts = re.findall(r"<script\b([^>]*)\bsrc=\"([^\"]+)\"[^>]*>", html)
    assert scripts
    for attrs, src in scripts:
        tag = re.search(r"<script\b[^>]*src=\"" + re.escape(src) + r"\"[^>]*>", html).group(0)
        if "documentation_options.js" in src:
            assert "defer" not in tag
        else:
            assert "defer" in tag, f"render-blocking script: {tag}"


def test_search_page_keeps_script_order(site):
    html = head_of(site, "search")
    assert re.search(r'<script src="_static/searchtools.js[^"]*"></script>', html)


def test_bundle_is_purged_and_fonts_are_subset(site):
    bundle = (site.out / slim.BUNDLE).read_text(encoding="utf-8")
    theme = (site.out / "_static/styles/pydata-sphinx-theme.css").stat().st_size
    assert len(bundle.encode()) < theme / 2
    assert ".fa-bars" in bundle and ".fa-mug-hot" not in bundle
    assert ".bd-article" in bundle
    from fontTools.ttLib import TTFont

    covered = set()
    for font in (site.out / slim.FONTS).glob("*.woff2"):
        assert font.stat().st_size < 10_000, f"{font.name} was not subset"
        covered |= set(TTFont(font).getBestCmap())
    # every icon the stylesheet can show has its glyph (else the reader sees an empty box)
    wanted = slim.icon_codepoints(bundle)
    assert 0xF0EB in wanted  # the lightbulb of the 学习目标 admonition
    originals = set()
    for name in ("fa-solid-900.woff2", "fa-regular-400.woff2", "fa-brands-400.woff2"):
        originals |= set(TTFont(slim._original_font(name)).getBestCmap())
    assert wanted & originals <= covered
    # the bundle lives in _static/styles/: every relative url() it uses must exist from there
    for url in re.findall(r'url\(["\']?([^"\')]+)', bundle):
        if not re.match(r"^(data:|https?:|/|#)", url):
            assert (site.out / "_static/styles" / url.split("?")[0].split("#")[0]).resolve().is_file(), url


# --- in Chromium: the bundle styles every element exactly as the original stylesheets ----------------

STYLE_HASHES = """
() => {
  const hash = (s) => { let h = 2166136261; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); } return h >>> 0; };
  const describe = (st) => Array.from(st).map((p) => p + ':' + st.getPropertyValue(p)).join(';');
  // a ::before/::after box exists only when its content is set: describe it only then
  const pseudo = (el, which) => {
    const st = getComputedStyle(el, which);
    return st.content === 'none' || st.content === 'normal' ? '' : describe(st);
  };
  const els = [document.documentElement, document.body, ...document.body.querySelectorAll('*')];
  return els.map((el) => hash(describe(getComputedStyle(el)) + '|' + pseudo(el, '::before') + '|' + pseudo(el, '::after')));
}
"""

DIFF = """
(index) => {
  const el = [document.documentElement, document.body, ...document.body.querySelectorAll('*')][index];
  const out = {};
  for (const pseudo of [null, '::before', '::after']) {
    const st = getComputedStyle(el, pseudo);
    for (const p of Array.from(st)) out[(pseudo || '') + p] = st.getPropertyValue(p);
  }
  return {tag: el.tagName, cls: el.className && el.className.baseVal === undefined ? el.className : '', style: out};
}
"""

SWAP = """
async (hrefs) => {
  document.querySelector('link[href*="aiinfra-bundle.css"]').remove();
  const loads = hrefs.map((href) => new Promise((resolve, reject) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet'; link.href = href; link.onload = resolve; link.onerror = () => reject(href);
    document.head.appendChild(link);
  }));
  await Promise.all(loads);
  await document.fonts.ready;
  // the swap restarts CSS transitions (colours of buttons and links): compare the settled state
  // (only finite ones: an endless animation, such as a loading pulse, never finishes)
  const finite = document.getAnimations().filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
  await Promise.all(finite.map((a) => a.finished.catch(() => null)));
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("docname", ["index", "04Train/README", LESSON])
@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_bundle_styles_every_element_like_the_original_css(browser, server, docname, mode, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    ctx.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
    page = ctx.new_page()
    page.goto(f"{server}/{docname}.html", wait_until="networkidle")
    page.evaluate("document.fonts.ready")
    # Chromium does not restyle sections it skips (content-visibility: auto) when a stylesheet is
    # swapped: render them all, in both variants, so every element is compared
    page.add_style_tag(content=".bd-article section { content-visibility: visible !important; }")
    slim_hashes = page.evaluate(STYLE_HASHES)
    slim_styles = {}
    depth = docname.count("/")
    page.evaluate(SWAP, ["../" * depth + href for href in ORIGINALS])
    full_hashes = page.evaluate(STYLE_HASHES)
    assert len(slim_hashes) == len(full_hashes)
    differing = [i for i, (a, b) in enumerate(zip(slim_hashes, full_hashes)) if a != b]
    if differing:
        # Show the first difference in detail: reload with the bundle and compare property by property.
        index = differing[0]
        full = page.evaluate(DIFF, index)
        page.goto(f"{server}/{docname}.html", wait_until="networkidle")
        page.add_style_tag(content=".bd-article section { content-visibility: visible !important; }")
        slim_styles = page.evaluate(DIFF, index)
        changed = {k: (slim_styles["style"].get(k), v) for k, v in full["style"].items()
                   if slim_styles["style"].get(k) != v}
        pytest.fail(f"{len(differing)} elements styled differently on {docname} ({mode}, {width}px); "
                    f"first: <{full['tag']} class={full['cls']!r}> bundle vs original: {dict(list(changed.items())[:8])}")
    ctx.close()
