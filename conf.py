"""Sphinx configuration of the AIInfra course site.

Sections: project · sources · extensions · content (MyST, math, figures, citations) · HTML and theme ·
search. Every URL of the project is set once, here.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "_ext"))

# -- Project ------------------------------------------------------------------------------------
project = "AIInfra"
author = "AIInfra 开源课程贡献者"
copyright = f"2024–{date.today().year}, {author}"
language = "zh_CN"
# UI strings the theme's own Chinese catalog leaves in English (compiled to .mo at build time).
locale_dirs = ["locale"]
with open(ROOT / "pyproject.toml", "rb") as _f:
    import tomllib

    release = version = tomllib.load(_f)["project"]["version"]

REPO_OWNER = "Infrasys-AI"
REPO_NAME = "AIInfra"
REPO_BRANCH = "main"
REPO_URL = f"https://github.com/{REPO_OWNER}/{REPO_NAME}"
SITE_URL = "https://infrasys-ai.github.io/aiinfra-docs/"
BILIBILI_URL = "https://space.bilibili.com/517221395"
YOUTUBE_URL = "https://www.youtube.com/@ZOMI666/playlists"

# -- Sources ------------------------------------------------------------------------------------
root_doc = "index"
source_suffix = {".md": "markdown"}
exclude_patterns = [
    "_build", ".venv", "**/node_modules", ".git", ".github", ".ci", ".pytest_cache",
    "tests", "tools", "_ext", "_templates", "refs",
    "README.md", "CONTRIBUTING.md", "LICENSE*", "**/code/**",
]
templates_path = ["_templates"]
# Outside a git checkout (e.g. a downloaded archive) pages simply carry no "last updated" date.
suppress_warnings = [] if (ROOT / ".git").exists() else ["git.subprocess_error"]

# sphinxext-opengraph prints a note at import when the optional matplotlib is missing; we do not
# generate social card images (we ship one), so keep the build output clean.
if not os.environ.get("AIINFRA_PREVIEW"):
    with contextlib.redirect_stdout(io.StringIO()):
        import sphinxext.opengraph  # noqa: F401

# -- Extensions ---------------------------------------------------------------------------------
extensions = [
    "myst_parser",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinxcontrib.bibtex",
    "sphinx_last_updated_by_git",
    "sphinxext.opengraph",
    "sphinx_sitemap",
    "notfound.extension",
    "sphinx_reredirects",
    # local, in _ext/
    "aiinfra_speed",
    "aiinfra_math",
    "aiinfra_numbering",
    "aiinfra_pages",
    "aiinfra_search",
    "aiinfra_slim",
]

# -- Content: MyST, figures, math, citations ----------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist", "fieldlist", "attrs_inline"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

numfig = True
numfig_format = {"figure": "图 %s", "table": "表 %s", "code-block": "代码 %s", "section": "%s 节"}
math_numfig = True
math_eqref_format = "式 ({number})"
html_math_renderer = "katex_mathml"

bibtex_bibfiles = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "refs").glob("*.bib"))
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

copybutton_prompt_text = r">>> |\.\.\. |\$ |In \[\d*\]: | {2,5}\.\.\.: "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True

# -- HTML and theme -----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "AIInfra 大模型系统全栈"
html_baseurl = SITE_URL
html_static_path = ["_static"]
html_css_files = ["aiinfra.css"]
html_favicon = "_static/favicon.svg"
html_last_updated_fmt = "%Y-%m-%d"
html_copy_source = False
html_show_sourcelink = False

html_theme_options = {
    "logo": {
        "image_light": "_static/logo-wide-light.svg",
        "image_dark": "_static/logo-wide-dark.svg",
        "alt_text": "AIInfra 大模型系统全栈 - 首页",
    },
    "icon_links": [
        {"name": "GitHub", "url": REPO_URL, "icon": "fa-brands fa-github"},
        {"name": "Bilibili", "url": BILIBILI_URL, "icon": "fa-brands fa-bilibili"},
        {"name": "YouTube", "url": YOUTUBE_URL, "icon": "fa-brands fa-youtube"},
    ],
    "header_links_before_dropdown": 4,
    "header_dropdown_text": "更多",
    "search_bar_text": "搜索课程……",
    "icon_links_label": "外部链接",
    "navbar_align": "left",
    "use_edit_page_button": True,
    "show_toc_level": 2,
    "navigation_with_keys": True,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc", "edit-this-page"],
    "article_header_end": ["page-meta"],
    "footer_start": ["copyright"],
    "footer_end": ["last-updated"],
}
html_context = {
    "github_user": REPO_OWNER,
    "github_repo": REPO_NAME,
    "github_version": REPO_BRANCH,
    "doc_path": "",
    "default_mode": "auto",
}

# -- Search: rjieba with the course's own dictionary of terms ------------------------------------
html_search_language = "zh"
html_search_options = {"dict": str(ROOT / "_ext" / "search-dict.txt")}
# `make livehtml` (AIINFRA_PREVIEW=1, its own build folder) leaves out the publishing extensions,
# which a preview does not show (git dates, social meta, sitemap, 404 page, redirects: together
# about 0.5 s of git calls per rebuild).
PREVIEW = bool(os.environ.get("AIINFRA_PREVIEW"))
if PREVIEW:
    extensions = [e for e in extensions if e not in {
        "sphinx_last_updated_by_git", "sphinxext.opengraph", "sphinx_sitemap", "notfound.extension",
        "sphinx_reredirects"}]

# -- Social cards, sitemap, 404, redirects ------------------------------------------------------
ogp_site_url = SITE_URL
ogp_site_name = html_title
ogp_image = "_static/social-card.png"
ogp_image_alt = "AIInfra 大模型系统全栈"
ogp_type = "article"
ogp_description_length = 160
ogp_enable_meta_description = True
ogp_social_cards = {"enable": False}

sitemap_url_scheme = "{link}"
sitemap_excludes = ["search.html", "genindex.html", "404.html"]

# The 404 page uses absolute asset URLs so that it works at any depth of the site.
notfound_urls_prefix = "/" + SITE_URL.split("://", 1)[1].split("/", 1)[1]
notfound_context = {
    "title": "页面不存在",
    "body": (
        "<h1>页面不存在</h1>"
        "<p>你要找的页面不存在，可能已经移动或改名。可以回到<a href=\"" + notfound_urls_prefix + "index.html\">课程首页</a>，"
        "或者搜索：</p>"
        "<form class=\"aiinfra-404-search\" action=\"" + notfound_urls_prefix + "search.html\" method=\"get\">"
        "<input type=\"search\" name=\"q\" aria-label=\"搜索课程\" placeholder=\"搜索课程……\"/> "
        "<button type=\"submit\">搜索</button></form>"
    ),
}


def _redirects() -> dict[str, str]:
    """Old URLs that keep working: the earlier site's flattened chapter paths
    (01AICluster01Roadmap/README.html, as in the course author's outline) and the moves in
    redirects.toml. Targets are relative to the old page."""
    import tomllib

    sys.path.insert(0, str(ROOT))
    from tools.outline import load

    moves = {}
    for module in load():
        for chapter, _ in module.chapters:
            moves[f"{module.dir}{chapter}/README"] = f"{module.dir}/{chapter}/README"
    moves.update(tomllib.loads((ROOT / "redirects.toml").read_text(encoding="utf-8")).get("moved", {}))
    return {old: "../" * old.count("/") + new + ".html" for old, new in moves.items()}


redirects = _redirects()
redirect_html_template_file = "_templates/redirect.html"

# -- EPUB -----------------------------------------------------------------------------------------
epub_basename = "AIInfra"
epub_title = html_title
epub_author = author
epub_publisher = author
epub_language = "zh-CN"
epub_show_urls = "no"
epub_exclude_files = ["search.html", "404.html", "robots.txt", "sitemap.xml", "genindex.html"]
