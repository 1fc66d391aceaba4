"""Math is rendered at build time to MathML; a formula KaTeX cannot parse fails with file and line."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import sphinx_build

SITES = Path(__file__).resolve().parent / "sites"


def test_math_renders_to_mathml(tmp_path):
    proc = sphinx_build(SITES / "math-good", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert html.count("<math") == 3
    assert 'display="block"' in html
    assert '<span class="eqno">(1)' in html
    assert not re.search(r"<script[^>]*(mathjax|katex)", html, re.I)


def test_bad_formula_fails_the_build_with_file_and_line(tmp_path):
    proc = sphinx_build(SITES / "math-bad", tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "index.md:5" in out, out
    assert "\\fraq" in out


def test_site_pages_with_math_load_no_math_script(site):
    pages = [p for p in site.pages() if "<math" in p.read_text(encoding="utf-8")]
    assert pages, "no page of the site has math"
    for p in pages:
        assert not re.search(r"<script[^>]*(mathjax|katex)", p.read_text(encoding="utf-8"), re.I), p
