"""`make check`: fast checks of the course content, each problem with file:line and a fix hint.

Each check is a small function in one of the modules below; they share the parsed pages
(``pages.py``). Run: ``python -m tools.checks [--root DIR] [--fix] [FILES...]``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    path: str       # relative to the checked root
    line: int       # 1-based; 0 when the problem is about a whole file or folder
    code: str       # short id of the check, e.g. "placeholder"
    message: str
    hint: str = ""

    def format(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: [{self.code}] {self.message}"
        return f"{text}\n    修正：{self.hint}" if self.hint else text
