"""Checks of one page's content: placeholders, headings, images, unsafe HTML, lesson structure."""

from __future__ import annotations

import re
from pathlib import Path

from tools.checks import Problem
from tools.checks.pages import Page, strip_inline_code

# -- 1. placeholders and empty sections -----------------------------------------------------------
PLACEHOLDER = re.compile(r"(?<![A-Za-z])(?:[xX]{3,}|TODO|TBD|FIXME)(?![A-Za-z])|待补充|待完善|正在编写|lorem ipsum",
                         re.IGNORECASE)


def placeholders(page: Page) -> list[Problem]:
    out = []
    for n, line in page.prose_lines.items():
        if m := PLACEHOLDER.search(strip_inline_code(line)):
            out.append(Problem(page.rel, n, "placeholder", f"占位文字“{m.group(0)}”",
                               "写完这部分内容；没写完的页面不要放进 toctree"))
    heads = page.headings()
    body_after = {}  # heading line -> is anything between it and the next heading?
    content_lines = sorted(it.line for it in page.items
                           if it.line and it.token.type not in ("heading_open", "inline", "heading_close")
                           and it.token.nesting != -1)
    for i, (level, line, text) in enumerate(heads):
        nxt = heads[i + 1] if i + 1 < len(heads) else None
        end = nxt[1] if nxt else 10**9
        body_after[line] = any(line < c < end for c in content_lines)
        if not body_after[line] and (nxt is None or nxt[0] <= level):
            out.append(Problem(page.rel, line, "empty-section", f"“{text}”一节没有内容",
                               "为这一节写内容，或删除这个标题"))
    return out


# -- 4. headings ------------------------------------------------------------------------------------
def headings(page: Page) -> list[Problem]:
    out = []
    heads = page.headings()
    h1 = [h for h in heads if h[0] == 1]
    if not h1:
        out.append(Problem(page.rel, 1, "heading", "页面没有一级标题（# 标题）", "在页首写一个 # 标题"))
    for level, line, text in h1[1:]:
        out.append(Problem(page.rel, line, "heading", f"第二个一级标题“{text}”",
                           "每页只有一个 # 标题；其余改为 ## 或更低级"))
    for (prev, _, _), (level, line, text) in zip(heads, heads[1:]):
        if level > prev + 1:
            out.append(Problem(page.rel, line, "heading", f"标题层级跳跃：H{prev} 之后直接是 H{level}“{text}”",
                               f"改为 H{prev + 1}（{'#' * (prev + 1)}）"))
    return out


# -- 3. images ----------------------------------------------------------------------------------------
IMAGE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"}
HTML_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*['\"]([^'\"]+)['\"]", re.IGNORECASE)


def page_images(page: Page) -> list[tuple[int, str, str | None]]:
    """(line, src, alt) of every image: Markdown images, {figure}/{image} directives, <img> tags."""
    found = []
    for child, line in page.inline_children():
        if child.type == "image":
            alt = "".join(c.content for c in child.children or [])
            found.append((line, child.attrs.get("src", ""), alt))
    for d in page.directives:
        if d.name in ("figure", "image"):
            found.append((d.line, d.argument, d.options.get("alt")))
    for it in page.items:
        if it.token.type in ("html_block", "html_inline"):
            found += [(it.line, src, "") for src in HTML_IMG.findall(it.token.content)]
    return found


def resolve(page: Page, root: Path, target: str) -> Path:
    """A document-relative or source-root-absolute ('/...') path, as Sphinx resolves it."""
    target = target.split("#")[0]
    return (root / target.lstrip("/")) if target.startswith("/") else (page.path.parent / target)


def images(page: Page, root: Path) -> list[Problem]:
    out = []
    for line, src, alt in page_images(page):
        if re.match(r"^(https?:)?//", src):
            out.append(Problem(page.rel, line, "image", f"图片来自其他网站：{src}",
                               "把图片做成本仓库里的文件（放在本章的 images/ 目录），站点不加载外部资源"))
            continue
        if not resolve(page, root, src).is_file():
            out.append(Problem(page.rel, line, "image", f"图片文件不存在：{src}",
                               "检查路径（相对于本页所在目录）和文件名大小写"))
        if not (alt or "").strip():
            out.append(Problem(page.rel, line, "image", f"图片没有替代文字（alt）：{src}",
                               "Markdown 写 ![说明图片内容](路径)，figure 指令写 :alt: 说明图片内容"))
    return out


# -- 5. unsafe raw HTML ---------------------------------------------------------------------------------
UNSAFE = re.compile(
    r"<\s*(script|iframe|object|embed|style)\b|\son[a-z]+\s*=|javascript\s*:", re.IGNORECASE)


def unsafe_html(page: Page) -> list[Problem]:
    out = []

    def flag(line: int, text: str) -> None:
        for m in UNSAFE.finditer(text):
            what = m.group(0).strip()
            out.append(Problem(page.rel, line + text[:m.start()].count("\n"), "unsafe-html",
                               f"内容中有不安全的 HTML：{what}",
                               "课程页面不写脚本、内嵌框架、样式或事件属性；用 MyST 指令和站点样式代替"))

    for it in page.items:
        if it.token.type in ("html_block", "html_inline"):
            flag(it.line, it.token.content)
    for child, line in page.inline_children():
        if child.type == "html_inline":
            flag(line, child.content)
        if child.type == "link_open" and re.match(r"\s*javascript:", child.attrs.get("href", ""), re.I):
            flag(line, child.attrs["href"])
    for d in page.directives:
        if d.name == "raw":
            flag(d.body_line, d.body)
    for n, line in page.prose_lines.items():   # markdown-it refuses javascript: links, leaving text
        if re.search(r"\]\(\s*javascript\s*:", line, re.IGNORECASE):
            flag(n, line[line.lower().index("javascript"):])
    return sorted(set(out))


# -- 6. lesson structure -----------------------------------------------------------------------------------
REQUIRED_SECTIONS = ("小结", "思考题", "参考文献")
CITE = re.compile(r"\{(?:cite(?::[a-z]+)?|footcite(?::[a-z]+)?)\}`([^`]+)`")


def is_lesson(rel: str) -> bool:
    """A lesson: NNName.md inside a module (not a README, not the landing page, not the appendix)."""
    parts = rel.split("/")
    return (len(parts) >= 2 and parts[-1] != "README.md" and re.match(r"^\d\d", parts[0]) is not None
            and parts[0] != "00Others" and parts[-1].endswith(".md"))


def lesson_structure(page: Page, min_chars: int, min_lab_chars: int) -> list[Problem]:
    if not is_lesson(page.rel):
        return []
    out = []
    heads = page.headings()
    h2 = {text: line for level, line, text in heads if level == 2}
    has_objectives = any(d.argument.startswith("学习目标") for d in page.directives if d.name == "admonition") \
        or any(text.startswith("学习目标") for _, _, text in heads)
    if not has_objectives:
        out.append(Problem(page.rel, 1, "lesson", "课程缺少“学习目标”",
                           "在一级标题之后加 ```{admonition} 学习目标 列出 3–5 条目标"))
    for name in REQUIRED_SECTIONS:
        if not any(t.startswith(name) for t in h2):
            out.append(Problem(page.rel, len(page.lines), "lesson", f"课程缺少“## {name}”一节",
                               "课程依次以 ## 小结、## 思考题、## 参考文献 结尾（见内容指南 §2）"))
    keys = {k.strip() for m in CITE.finditer(page.text) for k in m.group(1).split(",")}
    if len(keys) < 3:
        line = next((ln for t, ln in h2.items() if t.startswith("参考文献")), 1)
        out.append(Problem(page.rel, line, "lesson", f"课程只引用了 {len(keys)} 篇参考文献，至少需要 3 篇",
                           "在正文用到的地方用 {cite}`key` 引用，条目写进 refs/*.bib"))
    for d in page.directives:
        if d.name == "bibliography" and "all" not in d.options:
            out.append(Problem(page.rel, d.line, "lesson", "课程用 {bibliography} 列本课文献，同一文献被多课引用时会冲突",
                               "正文用 {footcite}`key` 引用，文末写 ```{footbibliography}```"))
    minimum = min_lab_chars if "Practices/" in page.rel else min_chars
    chars = page.cjk_prose_chars()
    if chars < minimum:
        out.append(Problem(page.rel, 1, "lesson", f"正文只有 {chars} 个汉字，课程至少需要 {minimum} 个",
                           "把课程写完整：从问题到机制再到权衡，并给出带真实数字的例子"))
    return out
