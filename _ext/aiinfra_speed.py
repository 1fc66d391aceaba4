"""Speed: caches that make rebuilds pay only for what changed.

* Jinja compiles the theme's templates in every build process (about 0.5 s); their bytecode is
  kept in ``<doctreedir>/jinja-bytecode/`` (Jinja checks each template's source for changes).

* Every ``{footcite}`` role and bibliography asks ``importlib.metadata.entry_points`` for a style
  plugin, which scans the metadata of every installed distribution (about 16 ms each here); a
  lesson with 30 citations spent two seconds on it. The answer cannot change during a build, so
  the two look-up functions are memoized.
* sphinxcontrib-bibtex formats every cited entry again on every build, incremental ones included
  (its ``env_updated`` hook), twice with tooltips on: about 20 ms per entry, so a few hundred
  references cost several seconds per rebuild. A formatted entry depends only on the style, the
  label and the entry's fields, so the results are kept between builds in
  ``<doctreedir>/aiinfra-bibtex.pickle`` under a key made of exactly those.
* Half of that formatting time was ``latexcodec`` decoding plain field text (titles, names)
  that holds no LaTeX at all. ``Text.from_latex`` skips the decoder for text made only of
  characters it leaves unchanged; anything else goes through the decoder as before.

* pydata-sphinx-theme renders each secondary-sidebar template twice per page (once to learn
  whether it is empty, then in the page), and its "edit this page" link compiles a new Jinja
  template on each call. The page's table-of-contents and edit-link functions are memoized per
  page, and the link template compiled once: the same HTML, about 1.5 s less per build.

* Sphinx runs a ``-j`` build's reading and writing in forked workers even when one page changed,
  and each worker pickles the whole environment back: about 0.4 s of a one-page rebuild. A
  rebuild that re-reads at most ``SMALL_REBUILD`` pages, none of them holding a toctree (whose
  change rewrites every page), runs in the one process.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
import types
from pathlib import Path

import jinja2
import pybtex.plugin
import pybtex.richtext
from jinja2 import FileSystemBytecodeCache
import sphinxcontrib.bibtex.plugin
from pybtex.style.formatting import BaseStyle
from sphinx.application import Sphinx

CACHE_NAME = "aiinfra-bibtex.pickle"
_memo: dict[str, object] = {}
_used: set[str] = set()
_original_format_entry = BaseStyle.format_entry


def entry_digest(style: BaseStyle, label: str, entry) -> str:
    """Everything a formatted entry depends on: style and its options, label, type, fields, people."""
    parts = [
        f"{type(style).__module__}.{type(style).__qualname__}",
        # options are plain values; helper objects are named by their class (their repr has an address)
        repr(sorted((k, v if isinstance(v, (bool, int, float, str)) else
                     f"{type(getattr(v, '__self__', v)).__module__}.{type(getattr(v, '__self__', v)).__qualname__}")
                    for k, v in vars(style).items())),
        label,
        entry.key,
        entry.type,
        repr(sorted((k, str(v)) for k, v in entry.fields.items())),
        repr(sorted((role, [str(p) for p in people]) for role, people in entry.persons.items())),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _format_entry(self: BaseStyle, label: str, entry, bib_data=None):
    key = entry_digest(self, label, entry)
    _used.add(key)
    hit = _memo.get(key)
    if hit is None:
        hit = _memo[key] = _original_format_entry(self, label, entry, bib_data=bib_data)
    return hit


def _cache_path(app: Sphinx) -> Path:
    return Path(app.doctreedir) / CACHE_NAME


def load(app: Sphinx) -> None:
    try:
        _memo.update(pickle.loads(_cache_path(app).read_bytes()))
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass  # no cache yet, or one from another pybtex: start empty


def save(app: Sphinx, exception: Exception | None) -> None:
    if exception is None:
        path = _cache_path(app)
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = {k: v for k, v in _memo.items() if k in _used}  # drop entries no page cites any more
        path.write_bytes(pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))


# Text latexcodec's decoder returns unchanged: no LaTeX specials, quotes, dashes or ligature pairs
# (",," "<<"), single spaces between words. Checked against the decoder in tests/test_speed.py.
PLAIN_LATEX = re.compile(r"(?!.*,,)[^\\{}$~\-'`\"^_%&#<>\s]+(?: [^\\{}$~\-'`\"^_%&#<>\s]+)*")
_original_from_latex = pybtex.richtext.Text.from_latex.__func__


def _from_latex(cls, latex: str):
    if PLAIN_LATEX.fullmatch(latex):
        from pybtex.markup import LaTeXParser

        return LaTeXParser(latex).parse()
    return _original_from_latex(cls, latex)


def _memoize_page_functions(original, app: Sphinx, pagename: str, templatename: str, context, doctree):
    """Run pydata's set_secondary_sidebar_items with the page's TOC and edit-link functions memoized,
    so its emptiness check and the page itself share one computation."""
    for name in ("generate_toc_html", "get_edit_provider_and_url"):
        func = context.get(name)
        if callable(func) and not hasattr(func, "cache_info"):
            context[name] = functools.lru_cache(maxsize=None)(func)
    return original(app, pagename, templatename, context, doctree)


def speed_up_theme(app: Sphinx) -> None:
    try:
        from pydata_sphinx_theme import edit_this_page, utils
    except ImportError:
        return
    # the module uses only jinja2.Template, to render one of three fixed URL templates
    if isinstance(getattr(edit_this_page, "jinja2", None), types.ModuleType):
        edit_this_page.jinja2 = types.SimpleNamespace(Template=functools.lru_cache(maxsize=8)(jinja2.Template))
    listeners = app.events.listeners.get("html-page-context", [])
    for i, listener in enumerate(listeners):
        if listener.handler is utils.set_secondary_sidebar_items:
            listeners[i] = listener._replace(
                handler=functools.partial(_memoize_page_functions, utils.set_secondary_sidebar_items))


SMALL_REBUILD = 5


def serial_small_rebuild(app: Sphinx, env, docnames: list[str]) -> None:
    if app.parallel > 1 and env.all_docs and len(docnames) <= SMALL_REBUILD \
            and not any(env.toctree_includes.get(d) for d in docnames):
        app.parallel = 1


def jinja_cache(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    environment = getattr(templates, "environment", None)
    if environment is not None and environment.bytecode_cache is None:
        folder = Path(app.doctreedir) / "jinja-bytecode"
        folder.mkdir(parents=True, exist_ok=True)
        environment.bytecode_cache = FileSystemBytecodeCache(str(folder))


def setup(app: Sphinx) -> dict:
    for module, name in ((pybtex.plugin, "_load_entry_point"), (sphinxcontrib.bibtex.plugin, "_entry_points")):
        func = getattr(module, name)
        if not hasattr(func, "cache_info"):
            setattr(module, name, functools.lru_cache(maxsize=None)(func))
    BaseStyle.format_entry = _format_entry
    pybtex.richtext.Text.from_latex = classmethod(_from_latex)
    app.connect("builder-inited", load)
    app.connect("builder-inited", speed_up_theme)
    app.connect("env-before-read-docs", serial_small_rebuild)
    app.connect("builder-inited", jinja_cache)
    app.connect("build-finished", save)
    return {"version": "1.2", "parallel_read_safe": True, "parallel_write_safe": True}
