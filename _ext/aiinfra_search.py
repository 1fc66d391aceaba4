"""Chinese full-text search that works in the browser.

Sphinx 9.0.x builds the Chinese search index with jieba, but its ``language_data.js`` for ``zh``
ends with ``window.Stemmer = ChineseStemmer;`` while the stemmer code it ships is the English one
(``EnglishStemmer``), so the search page throws and never answers (sphinx-doc/sphinx#14229).
The index side stems Latin words with the English Snowball stemmer, so pointing the JS at the
English stemmer is the matching fix. We also quiet jieba's start-up chatter on stderr.
"""

from __future__ import annotations

import logging

from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese


class SearchChineseFixed(SearchChinese):
    """SearchChinese whose JS stemmer name matches the stemmer code Sphinx ships for it."""

    language_name = "English"


def setup(app: Sphinx) -> dict:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    app.add_search_language(SearchChineseFixed)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
