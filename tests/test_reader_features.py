"""Reader features: social cards and SEO, sitemap and robots.txt, the 404 page, redirects of old URLs,
last-updated date and reading time, the print stylesheet, EPUB and PDF."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import xml.dom.minidom
import zipfile
from pathlib import Path

import pytest
from htmlscan import scan

from conf import SITE_URL, notfound_urls_prefix
from tools.outline import load

ROOT = Path(__file__).resolve().parent.parent


def meta(html: str, attr: str, name: str) -> str | None:
    for tag in re.findall(r"<meta\b[^>]*>", html):
        if re.search(rf'\b{attr}="{re.escape(name)}"', tag):
            m = re.search(r'\bcontent="([^"]*)"', tag)
            return m.group(1) if m else None
    return None


def content_pages(site):
    return [p for p in site.pages() if p.name not in ("search.html", "genindex.html", "404.html")
            and "http-equiv=\"refresh\"" not in p.read_text(encoding="utf-8")]


def test_every_page_has_social_card_description_and_canonical_url(site):
    for page in content_pages(site):
        rel = page.relative_to(site.out).as_posix()
        html = page.read_text(encoding="utf-8")
        assert meta(html, "property", "og:url") == SITE_URL + rel, rel
        assert meta(html, "property", "og:title"), rel
        assert (meta(html, "property", "og:image") or "").startswith(SITE_URL), rel
        assert len(meta(html, "name", "description") or "") > 20, rel
        assert f'<link rel="canonical" href="{SITE_URL}{rel}"' in html, rel
    assert (site.out / "_static" / "social-card.png").is_file()


def test_sitemap_lists_every_page_and_robots_points_to_it(site):
    sitemap = (site.out / "sitemap.xml").read_text(encoding="utf-8")
    locs = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    for page in content_pages(site):
        assert SITE_URL + page.relative_to(site.out).as_posix() in locs, page
    assert f"Sitemap: {SITE_URL}sitemap.xml" in (site.out / "robots.txt").read_text(encoding="utf-8")


def test_404_page_works_at_any_depth(site):
    html = (site.out / "404.html").read_text(encoding="utf-8")
    s = scan(html)
    local = [u for _, u in s.resources if not u.startswith("data:")]
    assert local
    for url in local:
        assert url.startswith(notfound_urls_prefix), f"404.html loads a relative URL: {url}"
        assert (site.out / url[len(notfound_urls_prefix):].split("?")[0]).is_file(), url
    assert f'action="{notfound_urls_prefix}search.html"' in html
    assert f'href="{notfound_urls_prefix}index.html"' in html


def test_old_chapter_urls_redirect_to_the_new_pages(site):
    for module in load():
        for chapter, _ in module.chapters:
            old = site.out / f"{module.dir}{chapter}" / "README.html"
            html = old.read_text(encoding="utf-8")
            target = re.search(r'url=([^"]+)"', html).group(1)
            assert (old.parent / target).resolve() == site.page(f"{module.dir}/{chapter}/README").resolve()


def test_redirect_map_is_sound(site):
    moved = tomllib.loads((ROOT / "redirects.toml").read_text(encoding="utf-8")).get("moved", {})
    for old, new in moved.items():
        assert not (ROOT / f"{old}.md").exists(), f"redirect source {old} is still a page"
        assert site.page(new).is_file(), f"redirect target {new} is not a page"


def test_pages_show_last_updated_and_lessons_reading_time(site):
    pages = content_pages(site)
    with_date = [p for p in pages if "更新于 20" in p.read_text(encoding="utf-8")]
    assert len(with_date) >= len(pages) * 0.9, "pages without a last-updated date from git"
    lessons = [p for p in pages if re.match(r"^\d\d(?!Others)[A-Za-z]+/(.+/)?\d\d[A-Za-z]+\.html$",
                                          p.relative_to(site.out).as_posix())]
    assert lessons
    for p in lessons:
        assert re.search(r"约 \d+ 分钟读完", p.read_text(encoding="utf-8")), p


@pytest.mark.browser
def test_print_stylesheet_hides_navigation(browser, server):
    page = browser.new_page()
    page.goto(f"{server}/04Train/README.html", wait_until="networkidle")
    page.emulate_media(media="print")
    for selector in (".bd-header", ".bd-sidebar-primary", ".bd-sidebar-secondary", ".prev-next-area"):
        loc = page.locator(selector).first
        if loc.count():
            assert not loc.is_visible(), f"{selector} is printed"
    assert page.locator("article.bd-article img").first.is_visible()
    page.close()


def test_epub_is_well_formed(tmp_path):
    out = tmp_path / "epub"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "epub", "-q", "-W", "--keep-going",
                           "-d", str(tmp_path / "doctrees"), str(ROOT), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    book = zipfile.ZipFile(out / "AIInfra.epub")
    first = book.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert book.read("mimetype") == b"application/epub+zip"
    container = xml.dom.minidom.parseString(book.read("META-INF/container.xml"))
    opf_path = container.getElementsByTagName("rootfile")[0].getAttribute("full-path")
    opf = xml.dom.minidom.parseString(book.read(opf_path))
    names = set(book.namelist())
    items = opf.getElementsByTagName("item")
    assert len(items) > 50
    for item in items:
        href = item.getAttribute("href")
        assert href in names, f"manifest item {href} missing from the EPUB"
        if href.endswith(".xhtml"):
            xml.dom.minidom.parseString(book.read(href))   # every page is well-formed XHTML
    assert opf.getElementsByTagName("dc:language")[0].firstChild.data == "zh-CN"
    assert len(opf.getElementsByTagName("itemref")) > 50
    assert not any(n.endswith(("404.xhtml", "search.xhtml")) for n in names)


def test_landing_and_module_pages_link_the_downloads(site):
    links = scan(site.page("index").read_text(encoding="utf-8")).links
    assert "_downloads/AIInfra.pdf" in links and "_downloads/AIInfra.epub" in links
    for module in load():
        links = scan(site.page(f"{module.dir}/README").read_text(encoding="utf-8")).links
        assert f"../_downloads/{module.dir}.pdf" in links, module.dir
