"""The build's speed-ups keep the output exact: _ext/aiinfra_speed.py and _ext/aiinfra_search.py."""

from __future__ import annotations

import codecs
import logging
import os
import random
import re
import sys
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
import pytest
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))

import aiinfra_search  # noqa: E402
import aiinfra_speed  # noqa: E402

HAN = re.compile(r"[\u4e00-\u9fff]")


def bib_strings() -> set[str]:
    """Every field value and name part of the course's bibliography."""
    out = set()
    for bib in sorted((ROOT / "refs").glob("*.bib")):
        for entry in parse_file(str(bib)).entries.values():
            out.update(str(v) for v in entry.fields.values())
            for people in entry.persons.values():
                for p in people:
                    out.update(p.first_names + p.middle_names + p.prelast_names + p.last_names + p.lineage_names)
    return out


def test_plain_latex_is_what_the_decoder_leaves_unchanged():
    strings = bib_strings()
    plain = [s for s in strings if aiinfra_speed.PLAIN_LATEX.fullmatch(s)]
    assert len(plain) > len(strings) / 2, "the fast path should cover most of the bibliography"
    for s in plain:
        assert codecs.decode(s, "ulatex") == s, s
    rng = random.Random(7)
    chars = "ab中 .,:;()/!?+=*@[]<>|é\u00a0\u3000\u2013\u201c\u00bf\u00a1\u2026AZ09"
    for _ in range(50_000):
        s = "".join(rng.choice(chars) for _ in range(rng.randint(1, 8)))
        if aiinfra_speed.PLAIN_LATEX.fullmatch(s):
            assert codecs.decode(s, "ulatex") == s, repr(s)


@pytest.mark.parametrize("text", [" lead", "a  b", "a,,b", "a--b", "x~y", r"\'e", "{A}", "100%", "a<<b", "it's"])
def test_text_the_decoder_changes_is_not_plain(text):
    assert not aiinfra_speed.PLAIN_LATEX.fullmatch(text)


def test_from_latex_fast_path_gives_the_same_rich_text():
    import pybtex.richtext

    original = aiinfra_speed._original_from_latex
    for s in sorted(bib_strings())[:800]:
        fast = aiinfra_speed._from_latex(pybtex.richtext.Text, s)
        assert repr(fast) == repr(original(pybtex.richtext.Text, s)), s


def test_page_functions_are_memoized_for_the_sidebar_check_and_the_page():
    calls = []

    def toc(kind="html"):
        calls.append(kind)
        return "<nav>toc</nav>"

    def seen(app, pagename, templatename, context, doctree):
        # pydata renders the template once to test emptiness; the page renders it again
        return [context["generate_toc_html"](), context["generate_toc_html"]()]

    context = {"generate_toc_html": toc, "get_edit_provider_and_url": lambda: ("GitHub", "u")}
    assert aiinfra_speed._memoize_page_functions(seen, None, "p", "page.html", context, None) == ["<nav>toc</nav>"] * 2
    assert calls == ["html"]
    assert context["get_edit_provider_and_url"]() == ("GitHub", "u")


def lesson_lines(limit: int = 3000) -> list[str]:
    lines = []
    for md in sorted(ROOT.glob("0[4-5]*/**/*.md")):
        lines += [ln for ln in md.read_text(encoding="utf-8").splitlines() if HAN.search(ln)]
    return lines[:limit]


def test_rjieba_gives_jiebas_chinese_words():
    """The segmenter swap keeps the Chinese words of Python jieba (what Sphinx itself would use)."""
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.load_userdict(str(ROOT / "_ext" / "search-dict.txt"))
    path = str(ROOT / "_ext" / "search-dict.txt")
    lines = lesson_lines()
    differ = 0
    for ln in lines:
        ours = {w for w in aiinfra_search.dictionary(path).segmenter.cut_for_search(ln) if HAN.search(w)}
        theirs = {w for w in tok.cut_for_search(ln) if HAN.search(w)}
        differ += ours != theirs
    assert len(lines) > 1000
    assert differ <= len(lines) // 500, f"{differ} of {len(lines)} lines segment differently"


def test_segment_keeps_latin_words_and_course_terms():
    path = str(ROOT / "_ext" / "search-dict.txt")
    words = aiinfra_search.segment("用 NCCL 的集合通信库做 all_reduce，见 stack-05Infer.svg",
                                   aiinfra_search.dictionary(path))
    assert {"NCCL", "all", "reduce", "stack", "05Infer", "svg"} <= set(words)
    assert "集合通信" in words, "course terms inside longer words are indexed"
    assert not [w for w in words if not re.fullmatch(r"[\w]+", w)], "no punctuation or joined Latin runs"


def test_dictionary_is_reloaded_when_it_changes(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("张量并行\n", encoding="utf-8")
    first = aiinfra_search.dictionary(str(path))
    assert aiinfra_search.dictionary(str(path)) is first
    path.write_text("张量并行\n专家并行\n", encoding="utf-8")
    os.utime(path, ns=(first_ns := path.stat().st_mtime_ns + 10**9, first_ns))
    again = aiinfra_search.dictionary(str(path))
    assert again.terms == {"张量并行", "专家并行"}
    assert "专家并行" in aiinfra_search.segment("专家并行和张量并行", again)


def test_stem_memo_keeps_sphinxs_short_word_rule():
    lang = aiinfra_search.SearchChineseFixed({"dict": str(ROOT / "_ext" / "search-dict.txt")})
    assert lang.stem("running") == "run"
    assert lang.stem("ies") == "ie"          # Snowball's answer, now memoized
    lang.split("ies")                        # a Latin word of the text is not stemmed below 3 letters
    assert lang.stem("ies") == "ies"


def test_theme_speed_ups_are_installed_in_a_real_build(tmp_path):
    """The site's own configuration puts the memoizing wrapper in place of pydata's listener."""
    import functools
    import types

    from sphinx.application import Sphinx

    app = Sphinx(str(ROOT), str(ROOT), str(tmp_path / "out"), str(tmp_path / "dt"), "html",
                 status=None, warning=None)
    handlers = [listener.handler for listener in app.events.listeners["html-page-context"]]
    assert any(isinstance(h, functools.partial) and h.func is aiinfra_speed._memoize_page_functions
               for h in handlers)
    from pydata_sphinx_theme import edit_this_page, utils

    assert utils.set_secondary_sidebar_items not in handlers
    assert not isinstance(edit_this_page.jinja2, types.ModuleType)
