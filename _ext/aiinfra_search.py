"""Chinese full-text search that works in the browser.

Sphinx 9.0.x builds the Chinese search index with jieba, but its ``language_data.js`` for ``zh``
ends with ``window.Stemmer = ChineseStemmer;`` while the stemmer code it ships is the English one
(``EnglishStemmer``), so the search page throws and never answers (sphinx-doc/sphinx#14229).
The index side stems Latin words with the English Snowball stemmer, so pointing the JS at the
English stemmer is the matching fix. We also quiet jieba's start-up chatter on stderr.

The browser splits a query only at spaces and punctuation, so "并行训练" stays one word and finds
nothing unless jieba happened to index exactly that word. ``SPLITTER`` segments each run of Chinese
characters in the query by forward maximum matching against the terms of the loaded index, the
same vocabulary jieba produced at build time: "并行训练" becomes "并行" + "训练".
"""

from __future__ import annotations

import logging

from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese


SPLITTER = r"""
function splitQuery(query) {
  const han = /[\u4e00-\u9fff]/;
  const words = query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu).filter((w) => w);
  const index = typeof Search !== "undefined" && Search._index ? Search._index : null;
  const known = (w) => !index || w in index.terms || w in index.titleterms;
  const out = [];
  for (const word of words) {
    for (const part of word.match(/[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+/g)) {
      if (!han.test(part) || part.length < 3 || known(part)) { out.push(part); continue; }
      const found = [];
      let i = 0;
      while (i < part.length) {
        let j = Math.min(part.length, i + 8);
        while (j > i + 2 && !known(part.slice(i, j))) j--;
        if (known(part.slice(i, j))) { found.push(part.slice(i, j)); i = j; } else i += 1;
      }
      out.push(...(found.length ? found : [part]));
    }
  }
  return out;
}
"""


class SearchChineseFixed(SearchChinese):
    """SearchChinese whose JS stemmer name matches the stemmer code Sphinx ships for it, and whose
    query splitter segments Chinese against the index vocabulary."""

    language_name = "English"
    js_splitter_code = SPLITTER

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        path = options.get("dict")
        self.course_terms = sorted(
            {line.split()[0] for line in open(path, encoding="utf-8") if line.strip()} if path else (),
            key=len, reverse=True)

    def split(self, input: str) -> list[str]:
        """jieba's search mode yields the 2- and 3-character parts of a long word but not longer
        ones: '集合通信库' gives 集合, 通信 but not 集合通信. Add the course terms a word contains."""
        words = super().split(input)
        extra = [t for w in words if len(w) > 4 for t in self.course_terms if t != w and t in w]
        return words + extra


def setup(app: Sphinx) -> dict:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    app.add_search_language(SearchChineseFixed)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
