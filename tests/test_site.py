"""The built site: strict build, language, the whole outline, the landing page's links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from htmlscan import scan

from tools.outline import load, seed_entries

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed-index.md"


def test_build_is_warning_free(site):
    # -W turns warnings into errors; the fixture already asserted the exit status.
    assert "WARNING" not in site.log and "ERROR" not in site.log, site.log


def test_every_page_says_zh_cn(site):
    pages = site.pages()
    assert len(pages) > 50
    for page in pages:
        lang = scan(page.read_text(encoding="utf-8")).html_lang
        assert lang == "zh-CN", f"{page.relative_to(site.out)}: lang={lang!r}"


def test_every_source_page_is_built(site):
    """A page silently dropped from the build (e.g. by a parallel-build bug) is caught here."""
    sources = {
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in ROOT.rglob("*.md")
        if re.match(r"^(index\.md|\d\d[A-Za-z]+/)", p.relative_to(ROOT).as_posix())
        and "/code/" not in p.as_posix()
    }
    built = {p.relative_to(site.out).with_suffix("").as_posix() for p in site.pages()}
    missing = sorted(sources - built)
    assert not missing, f"source pages with no built page: {missing}"


def test_every_outline_entry_is_built(site):
    for docname in seed_entries():
        assert site.page(docname).is_file(), f"{docname}.md is in the outline but was not built"


def test_chapters_are_in_their_module_toctree_in_order(site):
    """The module page's navigation lists its chapters in the outline's order."""
    for module in load():
        if not module.chapters:
            continue
        html = site.page(f"{module.dir}/README").read_text(encoding="utf-8")
        positions = []
        for chapter, _ in module.chapters:
            href = f"{chapter}/README.html"
            assert href in html, f"{module.dir}/README does not link {href}"
            positions.append(html.index(href))
        assert positions == sorted(positions), f"{module.dir}: chapters out of order"


def test_landing_page_links_the_eight_modules(site):
    links = scan(site.page("index").read_text(encoding="utf-8")).links
    modules = [m.dir for m in load()]
    assert len(modules) == 8
    for d in modules:
        assert f"{d}/README.html" in links, f"index.html does not link {d}/README.html"
    assert "00Others/README.html" in links


def _seed_toctree_entries(text: str) -> list[str]:
    entries = []
    for block in re.findall(r"```\{toctree\}(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.append(line)
    return entries


@pytest.mark.skipif(not SEED.exists(), reason="the course author's seed outline (../shared/seed-index.md) is not beside this clone")
def test_outline_matches_the_seed():
    """tools/outline.toml is the seed's outline: same modules and chapters in the same order."""
    dirs = [m.dir for m in load()]
    mapped = []
    for entry in _seed_toctree_entries(SEED.read_text(encoding="utf-8")):
        if entry.startswith("00Others"):
            continue  # the appendix, not a module
        flat, _, page = entry.partition("/")
        module = next(d for d in dirs if flat.startswith(d))
        chapter = flat[len(module):]
        mapped.append(f"{module}/{chapter}/{page}" if chapter else f"{module}/{page}")
    assert mapped == seed_entries()
