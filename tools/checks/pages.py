"""Reading pages: the MyST Markdown parser (markdown-it-py) with absolute line numbers, also
inside directives whose body is Markdown (admonitions, grids, cards, dropdowns, figures...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

MD = create_md_parser(
    MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "amsmath", "deflist", "fieldlist"}),
    RendererHTML,
)
# Directives whose body is not Markdown (code, math, raw HTML, lists of documents...).
OPAQUE = {"code-block", "code", "sourcecode", "literalinclude", "math", "raw", "toctree",
          "bibliography", "glossary", "csv-table", "list-table", "mermaid", "graphviz", "include"}
DIRECTIVE = re.compile(r"^\{([\w:-]+)\}\s*(.*)$")
OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: str
    line: int           # line of the opening fence
    body_line: int      # line of the first body line
    token: Token


@dataclass
class Item:
    """A token and its 1-based source line (0 when markdown-it gives none)."""

    token: Token
    line: int


def split_options(content: str) -> tuple[dict[str, str], str, int]:
    """Options at the top of a directive body; returns (options, rest, number of option lines)."""
    lines = content.split("\n")
    options, n = {}, 0
    if lines and lines[0].strip() == "---":       # YAML block form
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                for ln in lines[1:i]:
                    k, _, v = ln.partition(":")
                    options[k.strip()] = v.strip()
                return options, "\n".join(lines[i + 1:]), i + 1
    while n < len(lines) and (m := OPTION.match(lines[n])):
        options[m.group(1)] = m.group(2).strip()
        n += 1
    return options, "\n".join(lines[n:]), n


@dataclass
class Page:
    path: Path          # absolute
    rel: str            # relative to the checked root, posix
    text: str
    items: list[Item] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, root: Path) -> "Page":
        text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
        page = cls(path, path.relative_to(root).as_posix(), text)
        page._walk(text, 0)
        return page

    def _walk(self, text: str, offset: int) -> None:
        for tok in MD.parse(text):
            line = tok.map[0] + 1 + offset if tok.map else 0
            self.items.append(Item(tok, line))
            if tok.type in ("fence", "colon_fence") and (m := DIRECTIVE.match(tok.info.strip())):
                options, body, nopt = split_options(tok.content)
                d = Directive(m.group(1), m.group(2).strip(), options, body, line, line + 1 + nopt, tok)
                self.directives.append(d)
                if d.name not in OPAQUE:
                    self._walk(body, line + nopt)

    # -- views used by several checks ----------------------------------------------------------
    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def headings(self) -> list[tuple[int, int, str]]:
        """(level, line, text) of every heading, in order, including those inside directives."""
        out = []
        for i, it in enumerate(self.items):
            if it.token.type == "heading_open":
                inline = self.items[i + 1].token
                out.append((int(it.token.tag[1]), it.line, inline.content.strip()))
        return out

    def inline_children(self):
        """(child token, line) of every inline element: links, images, roles, text."""
        for it in self.items:
            if it.token.type == "inline":
                line = it.line
                for child in it.token.children or []:
                    yield child, line
                    if child.type in ("softbreak", "hardbreak"):
                        line += 1

    @cached_property
    def prose_lines(self) -> dict[int, str]:
        """Line number -> text for lines of prose (not code, math, raw HTML or directive options)."""
        skip: set[int] = set()
        for it in self.items:
            t = it.token
            if t.type in ("fence", "colon_fence", "code_block", "math_block", "math_block_label",
                          "amsmath", "html_block", "front_matter") and t.map:
                d = DIRECTIVE.match(t.info.strip()) if t.type in ("fence", "colon_fence") else None
                if d and d.group(1) not in OPAQUE:
                    # the fence lines and the options, not the Markdown body
                    opts = split_options(t.content)[2]
                    skip.update(range(it.line, it.line + 1 + opts))
                    skip.add(it.line + (t.map[1] - t.map[0]) - 1)
                else:
                    skip.update(range(it.line, it.line + (t.map[1] - t.map[0])))
        return {n: s for n, s in enumerate(self.lines, 1) if n not in skip}

    def cjk_prose_chars(self) -> int:
        return sum(len(CJK.findall(strip_inline_code(s))) for s in self.prose_lines.values())


INLINE_CODE = re.compile(r"`[^`]*`")


def strip_inline_code(line: str) -> str:
    return INLINE_CODE.sub("", line)
