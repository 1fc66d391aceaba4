"""2. Chinese typography through autocorrect (spaces between CJK and Latin, full-width punctuation).

autocorrect understands Markdown (it leaves code and links alone); its rules are configured in
.autocorrectrc at the repository root. `make fix` writes its safe fixes back.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import autocorrect_py as autocorrect

from tools.checks import Problem
from tools.checks.pages import Page


@lru_cache(maxsize=None)
def _configure(root: Path) -> None:
    rc = root / ".autocorrectrc"
    if rc.is_file():
        autocorrect.load_config(rc.read_text(encoding="utf-8"))


def typography(page: Page, root: Path) -> list[Problem]:
    _configure(root)
    out = []
    prose = page.prose_lines
    for res in autocorrect.lint_for(page.text, page.rel).lines:
        first = res.old.split("\n")[0]
        if res.line not in prose:        # autocorrect also reads directive options; we lint prose
            continue
        out.append(Problem(page.rel, res.line, "typography",
                           f"中文排版：“{_clip(first)}”", f"改为“{_clip(res.new.split(chr(10))[0])}”（make fix 可自动修正）"))
    return out


def fix(page: Page, root: Path) -> bool:
    """Apply autocorrect's fixes to the prose lines of the page; True when the file changed."""
    _configure(root)
    lines = page.text.split("\n")
    prose = page.prose_lines
    changed = False
    for res in autocorrect.lint_for(page.text, page.rel).lines:
        old, new = res.old.split("\n"), res.new.split("\n")
        start = res.line - 1
        if len(old) != len(new) or any((start + i + 1) not in prose for i in range(len(old))):
            continue
        if lines[start:start + len(old)] == old:
            lines[start:start + len(old)] = new
            changed = True
    if changed:
        page.path.write_text("\n".join(lines), encoding="utf-8")
    return changed


def _clip(s: str, n: int = 60) -> str:
    s = s.strip()
    return s if len(s) <= n else s[:n] + "…"
