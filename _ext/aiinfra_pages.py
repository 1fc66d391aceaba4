"""Reader aids and site files: a reading-time estimate on lessons, robots.txt, legacy redirects.

* ``reading_minutes`` in each page's template context: Chinese characters of the page body at an
  assumed 300 characters per minute plus Latin words at 200 per minute (a rough estimate, shown
  as such), only for lessons.
* ``robots.txt`` written at the end of an HTML build, pointing at the sitemap of ``html_baseurl``.
* the redirect pages of sphinx-reredirects only in the web build.
* the ``{site-download}`` role: ``{site-download}`AIInfra.pdf``` links ``_downloads/AIInfra.pdf`` of
  the published site (``make pdf`` / ``make epub`` put the files there; so does the deploy).
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z]+")
CJK_PER_MIN, WORDS_PER_MIN = 300, 200


def is_lesson(docname: str) -> bool:
    parts = docname.split("/")
    return len(parts) >= 2 and parts[-1] != "README" and re.match(r"^\d\d", parts[0]) is not None \
        and parts[0] != "00Others"


def reading_minutes(doctree: nodes.document) -> int:
    text = " ".join(n.astext() for n in doctree.findall(nodes.Text)
                    if not isinstance(n.parent, (nodes.literal_block, nodes.math_block, nodes.raw)))
    minutes = len(CJK.findall(text)) / CJK_PER_MIN + len(WORD.findall(text)) / WORDS_PER_MIN
    return max(1, round(minutes))


def page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if doctree is not None and is_lesson(pagename):
        context["reading_minutes"] = reading_minutes(doctree)


def site_download(name, rawtext, text, lineno, inliner, options=None, content=None):
    docname = inliner.document.settings.env.docname
    uri = "../" * docname.count("/") + "_downloads/" + text.strip()
    label = f"{text.strip()}（{'PDF' if text.strip().endswith('.pdf') else 'EPUB'}）"
    node = nodes.reference(rawtext, label, refuri=uri, classes=["aiinfra-download"])
    return [node], []


def web_only(app: Sphinx) -> None:
    """Redirect pages belong to the web site, not to the EPUB or the single-page (PDF) build."""
    if app.builder.name != "html":
        app.config.redirects = {}


def write_robots(app: Sphinx, exception) -> None:
    if exception or app.builder.name != "html" or not app.config.html_baseurl:
        return
    base = app.config.html_baseurl.rstrip("/") + "/"
    Path(app.outdir, "robots.txt").write_text(
        f"User-agent: *\nAllow: /\n\nSitemap: {base}sitemap.xml\n", encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_role("site-download", site_download)
    app.connect("builder-inited", web_only)
    app.connect("html-page-context", page_context)
    app.connect("build-finished", write_robots)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
