"""Number figures, tables, code blocks and equations per page: 图 1, 图 2 … start again on every page.

Without numbered toctrees Sphinx counts figures across the whole site in reading order, so the
third figure of a lesson may be "图 214", and adding one figure renumbers (and rebuilds) every
page after it. This collector keeps Sphinx's walk and renumbers each page from 1.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.environment.collectors.toctree import TocTreeCollector


class PerPageTocTreeCollector(TocTreeCollector):
    def assign_figure_numbers(self, env: BuildEnvironment) -> list[str]:
        previous = env.toc_fignumbers
        super().assign_figure_numbers(env)
        for kinds in env.toc_fignumbers.values():
            for figtype, numbers in kinds.items():
                in_order = sorted(numbers, key=numbers.__getitem__)
                kinds[figtype] = {fid: (*numbers[fid][:-1], i) for i, fid in enumerate(in_order, 1)}
        return [doc for doc, kinds in env.toc_fignumbers.items() if kinds != previous.get(doc)]


def setup(app: Sphinx) -> dict:
    # replace Sphinx's own toctree collector by the per-page one
    for listener in list(app.events.listeners.get("env-get-updated", [])):
        owner = getattr(listener.handler, "__self__", None)
        if type(owner) is TocTreeCollector:
            owner.disable(app)
    app.add_env_collector(PerPageTocTreeCollector)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
