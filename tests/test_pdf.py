"""`make pdf`: the whole course as a PDF with Chinese text, bookmarks and page numbers."""

from __future__ import annotations

import re
import subprocess

import pytest

from tools.outline import load


@pytest.mark.browser
def test_pdf_has_chinese_text_bookmarks_and_pages(chromium, tmp_path):
    from pypdf import PdfReader

    from tools import pdf

    html = tmp_path / "singlehtml"
    pdf.build_singlehtml(html)
    (path,) = pdf.print_pdfs(html, tmp_path / "pdf", only=["AIInfra"])
    reader = PdfReader(path)
    assert 60 <= len(reader.pages) <= 3000, len(reader.pages)
    titles = []

    def walk(items):
        for it in items:
            if isinstance(it, list):
                walk(it)
            else:
                titles.append(it.title)

    walk(reader.outline)
    for module in load():
        assert any(module.title in t for t in titles), f"no bookmark for {module.title}"
    text = subprocess.run(["pdftotext", "-l", "5", str(path), "-"], capture_output=True, text=True).stdout
    assert "大模型" in text and len(re.findall(r"[\u4e00-\u9fff]", text)) > 500
    footer = subprocess.run(["pdftotext", "-f", "3", "-l", "3", str(path), "-"], capture_output=True, text=True).stdout
    assert re.search(r"第 3 页 / 共 \d+ 页", footer), footer[-200:]
