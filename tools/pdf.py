"""`make pdf`: the whole course and one PDF per module, printed by headless Chromium.

Why Chromium and not LaTeX: the pages already render Chinese (system CJK fonts), MathML math,
SVG figures and sphinx-design cards correctly in a browser; printing that same HTML keeps one
source of truth and needs no TeX Live (several GB, and CJK/xelatex set-up). Chromium writes PDF
bookmarks from the headings (``outline``), tagged PDF, and our footer carries page numbers.

    python -m tools.pdf [--html DIR] [--out DIR] [--only MODULE ...]

It builds the ``singlehtml`` version of the site into _build/singlehtml first (unless --html is
given), serves it on 127.0.0.1 and prints _build/pdf/AIInfra.pdf and _build/pdf/<module>.pdf.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.outline import load  # noqa: E402
from tools.serve import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

FOOTER = ('<div style="width:100%;font-size:8px;color:#777;text-align:center;'
          'font-family:sans-serif">AIInfra · 第 <span class="pageNumber"></span> 页 / 共 '
          '<span class="totalPages"></span> 页</div>')


def build_singlehtml(out: Path) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-b", "singlehtml", "-q", "-W", "--keep-going",
           "-d", str(out.parent / "doctrees-singlehtml"), str(ROOT), str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT)


KEEP_MODULE_JS = """(docname) => {
  const anchor = document.getElementById('document-' + docname);
  if (!anchor) return false;
  const section = anchor.nextElementSibling;
  document.querySelector('article.bd-article').replaceChildren(section);
  return true;
}"""


def print_pdfs(html_dir: Path, out: Path, only: list[str] | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    jobs = [("AIInfra", None)] + [(m.dir, f"{m.dir}/README") for m in load()]
    if only:
        jobs = [j for j in jobs if j[0] in only]
    written = []
    with serve(html_dir) as base, sync_playwright() as pw:
        url = f"{base}/index.html"
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, docname in jobs:
            page = browser.new_page()
            page.goto(url, wait_until="networkidle")
            page.evaluate("document.documentElement.dataset.theme = 'light'")
            page.emulate_media(media="print")
            if docname and not page.evaluate(KEEP_MODULE_JS, docname):
                raise SystemExit(f"module {docname} not found in the single-page build")
            target = out / f"{name}.pdf"
            page.pdf(path=str(target), format="A4", print_background=True, outline=True, tagged=True,
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER,
                     margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"})
            page.close()
            written.append(target)
            print(target)
        browser.close()
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="课程 PDF（make pdf）")
    ap.add_argument("--html", type=Path, help="已构建好的 singlehtml 目录（默认先构建 _build/singlehtml）")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf")
    ap.add_argument("--only", nargs="*", help="只生成这些 PDF（AIInfra 或模块目录名）")
    args = ap.parse_args(argv)
    html = args.html
    if html is None:
        html = ROOT / "_build" / "singlehtml"
        build_singlehtml(html)
    print_pdfs(html, args.out, args.only)


if __name__ == "__main__":
    main()
