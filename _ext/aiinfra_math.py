"""Math rendered at build time: KaTeX (embedded in QuickJS by PyKaTeX) turns each formula into MathML.

Browsers lay MathML out natively, so a page with math loads no script, no stylesheet and no web
font for it, and nothing from a CDN. A formula KaTeX cannot parse is a build warning (an error
under ``-W``) that names the file and line; the page then shows the TeX source.

Formulas are rendered when a page is read (``doctree-read``, in Sphinx's parallel readers) and the
MathML is kept on the node, so writing a page (one process while the main one resolves the next)
only copies it, and a rebuild that rewrites unchanged pages renders nothing. Repeated formulas
are rendered once per process.
"""

from __future__ import annotations

import html

import pykatex
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)


MATHML = "aiinfra_mathml"       # node attribute: the formula's MathML, rendered while reading
_rendered: dict[tuple[str, bool], str] = {}


def render(latex: str, display: bool, node: nodes.Element) -> str:
    """Return MathML for *latex*; on a KaTeX error, warn with the node's location."""
    hit = _rendered.get((latex, display))
    if hit is not None:
        return hit
    try:
        hit = _rendered[latex, display] = pykatex.renderToString(
            latex, displayMode=display, output="mathml", throwOnError=True, strict="ignore"
        )
        return hit
    except pykatex.ParseError as err:
        logger.warning("公式无法解析（KaTeX）：%s\n    公式：%s", err, latex.strip(),
                       location=node, type="aiinfra", subtype="math")
        return f'<code class="math-error">{html.escape(latex)}</code>'


def display_source(node: nodes.math_block) -> str:
    """The TeX of a display block; blank-line separated equations become one aligned block."""
    text = node.astext()
    if node.get("nowrap"):
        return text
    parts = [p for p in text.split("\n\n") if p.strip()]
    if len(parts) > 1:
        return r"\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}"
    return parts[0] if parts else text


def render_while_reading(app: Sphinx, doctree: nodes.document) -> None:
    if app.builder.format != "html":
        return
    for node in doctree.findall(nodes.math):
        node[MATHML] = render(node.astext(), False, node)
    for node in doctree.findall(nodes.math_block):
        node[MATHML] = render(display_source(node), True, node)


def visit_math(self: HTML5Translator, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(node.get(MATHML) or render(node.astext(), False, node))
    self.body.append("</span>")
    raise nodes.SkipNode


def visit_displaymath(self: HTML5Translator, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node.get("number"):
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(node.get(MATHML) or render(display_source(node), True, node))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer("katex_mathml", (visit_math, None), (visit_displaymath, None))
    app.config.html_math_renderer = "katex_mathml"
    app.connect("doctree-read", render_while_reading)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
