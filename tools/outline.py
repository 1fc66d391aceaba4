"""The course outline (tools/outline.toml): modules and chapters in the seed's order."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

OUTLINE_FILE = Path(__file__).with_name("outline.toml")


@dataclass(frozen=True)
class Module:
    dir: str
    title: str
    en: str
    chapters: tuple[tuple[str, str], ...]

    def chapter_docs(self) -> list[str]:
        """Sphinx docnames of the module's chapter overviews, e.g. '01AICluster/01Roadmap/README'."""
        return [f"{self.dir}/{c}/README" for c, _ in self.chapters]


def load(path: Path = OUTLINE_FILE) -> list[Module]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Module(m["dir"], m["title"], m["en"], tuple((c, t) for c, t in m["chapters"]))
        for m in data["module"]
    ]


def seed_entries(modules: list[Module] | None = None) -> list[str]:
    """Every page the seed outline names, in its flattened-path order mapped to our tree."""
    entries = []
    for m in modules or load():
        entries.append(f"{m.dir}/README")
        entries.extend(m.chapter_docs())
    return entries
