"""Command line of the content checks: python -m tools.checks [--root DIR] [--fix] [FILES...]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools import outline as outline_mod
from tools.checks import Problem, content, tree, typography
from tools.checks.pages import Page

REPO = Path(__file__).resolve().parents[2]
CONTENT_GLOB = "[0-9][0-9]*"
MIN_LESSON_CHARS = 2500   # CONTENT_GUIDE §2: 2,500–6,000 Chinese characters of prose
MIN_LAB_CHARS = 1200      # a lab replaces part of the prose with a program the page walks through


def content_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob(CONTENT_GLOB) if p.is_dir())


def content_pages(root: Path) -> list[Path]:
    pages = [root / "index.md"] if (root / "index.md").is_file() else []
    for d in content_dirs(root):
        pages += sorted(p for p in d.rglob("*.md") if "code" not in p.relative_to(root).parts)
    return pages


def run(root: Path, files: list[Path] | None = None, *, fix: bool = False,
        min_chars: int = MIN_LESSON_CHARS, min_lab_chars: int = MIN_LAB_CHARS) -> list[Problem]:
    root = root.resolve()
    all_paths = content_pages(root)
    targets = [f.resolve() for f in files] if files else all_paths
    targets = [t for t in targets if t.suffix == ".md" and t.is_file()]
    problems: list[Problem] = []

    # 10. encodings of every text file in the content folders (or of the given files)
    enc_targets = targets if files else [
        f for d in content_dirs(root) for f in d.rglob("*") if f.is_file() and f.suffix in tree.TEXT_SUFFIXES
    ] + all_paths[:1]
    for f in enc_targets:
        problems += tree.encoding(f, f.relative_to(root).as_posix())

    pages = {tree.docname(root, p): Page.load(p, root) for p in (all_paths if not files else targets)}
    for p in targets:
        page = pages.get(tree.docname(root, p)) or Page.load(p, root)
        if fix and typography.fix(page, root):
            page = Page.load(p, root)
        problems += content.placeholders(page)
        problems += typography.typography(page, root)
        problems += content.images(page, root)
        problems += content.headings(page)
        problems += content.unsafe_html(page)
        problems += content.lesson_structure(page, min_chars, min_lab_chars)
        problems += tree.links(page, root)

    if not files:   # whole-tree checks
        outline_file = root / "tools" / "outline.toml"
        outline = outline_mod.load(outline_file) if outline_file.is_file() else None
        problems += tree.naming(root, content_dirs(root))
        problems += tree.structure(root, pages, outline)
        problems += tree.unused_images(root, pages, content_dirs(root))
    return sorted(set(problems))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.checks", description="检查课程内容（make check）")
    ap.add_argument("files", nargs="*", type=Path, help="只检查这些 Markdown 文件（默认检查全部内容）")
    ap.add_argument("--root", type=Path, default=REPO, help="站点源目录（默认：仓库根目录）")
    ap.add_argument("--fix", action="store_true", help="先自动修正可安全修正的中文排版问题")
    ap.add_argument("--min-chars", type=int, default=MIN_LESSON_CHARS, help="课程正文的最少汉字数")
    ap.add_argument("--min-lab-chars", type=int, default=MIN_LAB_CHARS, help="实践课的最少汉字数")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    problems = run(args.root, args.files or None, fix=args.fix,
                   min_chars=args.min_chars, min_lab_chars=args.min_lab_chars)
    for p in problems:
        print(p.format())
    took = time.perf_counter() - start
    if problems:
        print(f"\n发现 {len(problems)} 个问题（用时 {took:.1f} 秒）。", file=sys.stderr)
        return 1
    print(f"内容检查通过（用时 {took:.1f} 秒）。", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
