"""Search answers right: for each course term, the search page (in Chromium, with the site's own
search code and index) finds at least 95% of the pages whose text contains it."""

from __future__ import annotations

import re

import pytest
from test_search import article_text

pytestmark = pytest.mark.browser

# Course terms, 2–6 characters, Chinese and English.
TERMS = ["并行", "流水线并行", "张量并行", "数据并行", "集合通信", "显存", "推理", "调度", "量化", "微调",
         "容器", "智能体", "注意力", "带宽", "检索增强生成", "混合专家", "预填充", "分布式训练",
         "NCCL", "Kubernetes", "AllReduce", "RDMA", "MoE", "LoRA", "GPU", "Transformer"]
RECALL = 0.95


def pages_containing(site, term: str) -> set[str]:
    pattern = re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", re.I) if term.isascii() else None
    found = set()
    for page in site.pages():
        rel = page.relative_to(site.out).as_posix()
        if rel in ("search.html", "genindex.html", "404.html"):
            continue
        text = article_text(page)
        if (pattern.search(text) if pattern else term in text):
            found.add(rel[:-len(".html")])
    return found


def test_search_finds_the_pages_that_contain_each_term(browser, server, site):
    page = browser.new_page()
    page.goto(f"{server}/search.html", wait_until="networkidle")
    page.wait_for_function("typeof Search !== 'undefined' && Search.hasIndex()")
    misses = []
    for term in TERMS:
        expected = pages_containing(site, term)
        assert expected, f"no page contains {term!r}: pick another term"
        got = set(page.evaluate(
            """(q) => { const p = Search._parseQuery(q);
                        return Search._performSearch(...p).map((r) => r[0]); }""", term))
        recall = len(expected & got) / len(expected)
        if recall < RECALL:
            misses.append(f"{term}: found {len(expected & got)} of {len(expected)} pages "
                          f"(missing e.g. {sorted(expected - got)[:3]})")
    page.close()
    assert not misses, "\n".join(misses)


def test_query_without_spaces_is_segmented(browser, server):
    """'张量并行通信' is not one indexed word: it is split into indexed words, and pages are found."""
    page = browser.new_page()
    page.goto(f"{server}/search.html", wait_until="networkidle")
    page.wait_for_function("typeof Search !== 'undefined' && Search.hasIndex()")
    parts = page.evaluate("splitQuery('张量并行通信')")
    assert parts == ["张量并行", "通信"], parts
    assert page.evaluate("Search._performSearch(...Search._parseQuery('张量并行通信')).length") > 0
    page.close()
