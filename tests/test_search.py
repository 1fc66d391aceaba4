"""The search index segments Chinese with jieba and the course dictionary."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DICT = ROOT / "_ext" / "search-dict.txt"


def load_index(site) -> dict:
    text = (site.out / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1: text.rindex(")")])


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip, self._main = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "article":
            self._main += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "article":
            self._main -= 1

    def handle_data(self, data):
        if self._main and not self._skip:
            self.parts.append(data)


def article_text(path: Path) -> str:
    p = _Text()
    p.feed(path.read_text(encoding="utf-8"))
    return "".join(p.parts)


def dictionary_terms() -> list[str]:
    return [line.split()[0] for line in DICT.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dictionary_is_clean():
    terms = dictionary_terms()
    assert len(terms) == len(set(terms)), "duplicate terms in the search dictionary"
    for t in terms:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,12}", t), f"not a Chinese term: {t!r}"


def test_index_has_chinese_words(site):
    terms = load_index(site)["terms"]
    chinese = [t for t in terms if re.search(r"[\u4e00-\u9fff]", t)]
    assert len(chinese) > 1000, "the index holds almost no Chinese words: is jieba installed?"


def test_dictionary_terms_are_whole_tokens(site):
    """Every dictionary term that occurs in a page's text is a token of the index."""
    terms = load_index(site)["terms"]
    text = "".join(article_text(p) for p in site.pages())
    used = [t for t in dictionary_terms() if t in text]
    assert "流水线并行" in used and "张量并行" in used and "集合通信" in used
    missing = [t for t in used if t not in terms]
    assert not missing, f"dictionary terms that are not whole index tokens: {missing}"


def test_language_data_defines_its_stemmer(site):
    """Sphinx 9.0's zh language_data.js names a ChineseStemmer it never defines (sphinx#14229)."""
    js = (site.out / "_static" / "language_data.js").read_text(encoding="utf-8")
    name = re.search(r"window\.Stemmer\s*=\s*(\w+)", js).group(1)
    assert re.search(rf"(class|function|var|let|const)\s+{name}\b", js), f"{name} is not defined"
