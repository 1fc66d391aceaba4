"""Checks of the whole tree: file encodings, names, toctrees and the outline, links, unused images."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from tools.checks import Problem
from tools.checks.content import IMAGE_SUFFIXES, page_images, resolve
from tools.checks.pages import Page

# -- 10. encodings ---------------------------------------------------------------------------------
TEXT_SUFFIXES = {".md", ".svg", ".py", ".bib", ".toml", ".txt", ".yml", ".yaml", ".css", ".js", ".html"}


def encoding(path: Path, rel: str) -> list[Problem]:
    data = path.read_bytes()
    out = []
    if data.startswith(b"\xef\xbb\xbf"):
        out.append(Problem(rel, 1, "encoding", "文件以 BOM 开头", "以不带 BOM 的 UTF-8 保存"))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        out.append(Problem(rel, line, "encoding", f"不是 UTF-8 编码（第 {err.start} 字节）", "以 UTF-8 保存文件"))
    if b"\r\n" in data:
        line = data[:data.index(b"\r\n")].count(b"\n") + 1
        out.append(Problem(rel, line, "encoding", "文件使用 CRLF（Windows）换行", "改用 LF 换行（git config core.autocrlf input）"))
    return out


# -- 7. naming ----------------------------------------------------------------------------------------
NAME = re.compile(r"^\d\d[A-Z][A-Za-z0-9]*$")
ASSET_DIRS = {"images", "code", "data"}


def naming(root: Path, content_dirs: list[Path]) -> list[Problem]:
    out = []
    for top in content_dirs:
        for d in [top, *sorted(p for p in top.rglob("*") if p.is_dir())]:
            rel = d.relative_to(root)
            if any(part in ASSET_DIRS or part.startswith((".", "_")) for part in rel.parts):
                continue
            if not NAME.match(d.name):
                out.append(Problem(rel.as_posix() + "/", 0, "naming", f"目录名“{d.name}”不符合 NN+英文名 的约定",
                                   "改名为两位序号加英文驼峰名，例如 03CollectComm"))
                continue
            if not (d / "README.md").is_file():
                out.append(Problem(rel.as_posix() + "/", 0, "naming", "章节目录没有 README.md",
                                   "为这一章写 README.md（章节概览与 toctree）"))
            for f in sorted(d.glob("*.md")):
                if f.name != "README.md" and not NAME.match(f.stem):
                    out.append(Problem(f.relative_to(root).as_posix(), 1, "naming",
                                       f"文件名“{f.name}”不符合 NN+英文名 的约定",
                                       "改名为两位序号加英文驼峰名，例如 01ScalingLaw.md"))
    return out


# -- 8. structure: toctrees, orphans, the outline ----------------------------------------------------
def toctree_entries(page: Page) -> list[tuple[int, str, bool]]:
    """(line, entry, is_glob) of every toctree entry of a page."""
    out = []
    for d in page.directives:
        if d.name != "toctree":
            continue
        is_glob = "glob" in d.options
        for i, raw in enumerate(d.body.split("\n")):
            entry = raw.strip()
            if not entry or entry.startswith(":"):
                continue
            if m := re.match(r"^.*<(.+)>$", entry):     # "Title <path>"
                entry = m.group(1).strip()
            out.append((d.body_line + i, entry, is_glob))
    return out


def docname(root: Path, path: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def structure(root: Path, pages: dict[str, Page], outline: list | None) -> list[Problem]:
    """pages: docname -> Page for every content page."""
    out = []
    children: dict[str, list[str]] = {}
    for name, page in pages.items():
        base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        kids = []
        for line, entry, is_glob in toctree_entries(page):
            if re.match(r"^[a-z]+://", entry) or entry == "self":
                continue
            target = entry.lstrip("/") if entry.startswith("/") else base + entry
            target = re.sub(r"\.md$", "", target)
            target = "/".join(_normalise(target.split("/")))
            if is_glob and any(ch in entry for ch in "*?["):
                kids += sorted(n for n in pages if fnmatch.fnmatch(n, target))
                continue
            if target not in pages:
                out.append(Problem(page.rel, line, "toctree", f"toctree 中的“{entry}”没有对应的页面",
                                   "检查路径（相对于本页所在目录，不带 .md），或删除这一条"))
            else:
                kids.append(target)
        children[name] = kids
    # pages reachable from the landing page
    seen, stack = {"index"}, ["index"]
    while stack:
        for kid in children.get(stack.pop(), []):
            if kid not in seen:
                seen.add(kid)
                stack.append(kid)
    for name, page in sorted(pages.items()):
        if name not in seen and not re.search(r"^orphan:\s*true", page.text, re.M):
            out.append(Problem(page.rel, 1, "toctree", "页面不在任何 toctree 中，读者无法从目录到达",
                               "把它加入所在章节 README.md 的 toctree；没写完的页面不要提交"))
    if outline:
        for module in outline:
            readme = f"{module.dir}/README"
            if readme not in pages:
                out.append(Problem(f"{module.dir}/README.md", 0, "outline",
                                   f"课程大纲中的模块“{module.title}”缺少 README.md", "按大纲建立模块概览页"))
                continue
            kids = children.get(readme, [])
            for chapter, title in module.chapters:
                doc = f"{module.dir}/{chapter}/README"
                if doc not in pages:
                    out.append(Problem(f"{module.dir}/{chapter}/README.md", 0, "outline",
                                       f"课程大纲中的章节“{title}”缺少 README.md", "按大纲建立章节概览页"))
                elif doc not in kids:
                    out.append(Problem(pages[readme].rel, 1, "outline",
                                       f"章节“{title}”（{chapter}/README）不在模块的 toctree 中",
                                       "按大纲顺序把它加入模块 README.md 的 toctree"))
            order = [k for k in kids if k in {f"{module.dir}/{c}/README" for c, _ in module.chapters}]
            expected = [f"{module.dir}/{c}/README" for c, _ in module.chapters if f"{module.dir}/{c}/README" in order]
            if order != expected:
                out.append(Problem(pages[readme].rel, 1, "outline", "模块 toctree 中章节的顺序与课程大纲不同",
                                   "按 tools/outline.toml 的顺序排列"))
    return out


def _normalise(parts: list[str]) -> list[str]:
    out: list[str] = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        elif p not in (".", ""):
            out.append(p)
    return out


# -- 9. internal links (Sphinx checks references and citations in the build) -------------------------
def links(page: Page, root: Path) -> list[Problem]:
    out = []
    for child, line in page.inline_children():
        if child.type != "link_open":
            continue
        href = child.attrs.get("href", "")
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|mailto:)", href, re.I) or not href.split("#")[0]:
            continue
        if not resolve(page, root, href).exists():
            out.append(Problem(page.rel, line, "link", f"链接指向不存在的文件：{href}",
                               "检查相对路径（相对于本页所在目录，链接页面写 .md 文件名）"))
    return out


# -- 3. images that no page uses ---------------------------------------------------------------------
def unused_images(root: Path, pages: dict[str, Page], content_dirs: list[Path]) -> list[Problem]:
    used = set()
    for page in pages.values():
        for _, src, _ in page_images(page):
            used.add(resolve(page, root, src).resolve())
    out = []
    for top in content_dirs:
        for f in sorted(top.rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and "images" in f.relative_to(root).parts \
                    and f.resolve() not in used:
                out.append(Problem(f.relative_to(root).as_posix(), 0, "image", "图片文件没有被任何页面使用",
                                   "在页面中引用它，或删除这个文件"))
    return out
