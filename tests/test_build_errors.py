"""Faults that only a Sphinx build can see fail the build (warnings are errors) with file and line:
a broken cross-reference, an unknown citation key, a page in no toctree, a missing image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import sphinx_build
from test_checks import FIX, GOOD, LESSON, line_of

SITES = Path(__file__).resolve().parent / "sites"
CONF = f"""
import sys
sys.path.insert(0, {str(SITES)!r})
from conf_common import *  # noqa: F401,F403
extensions = extensions + ["sphinxcontrib.bibtex"]
bibtex_bibfiles = ["refs/test.bib"]
"""


def fixture_site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(GOOD, root)
    (root / "conf.py").write_text(CONF, encoding="utf-8")
    return root


def test_good_fixture_builds(tmp_path):
    root = fixture_site(tmp_path)
    proc = sphinx_build(root, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("bad,marker,words", [
    ("broken-ref.md", "no-such-label", "no-such-label"),
    ("unknown-cite.md", "nobody2099missing", "nobody2099missing"),
    ("image-missing.md", "nope.svg", "nope.svg"),
])
def test_build_fails_with_file_and_line(tmp_path, bad, marker, words):
    root = fixture_site(tmp_path)
    shutil.copy(FIX / "bad" / bad, root / LESSON)
    proc = sphinx_build(root, tmp_path / "out")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"{LESSON}:{line_of(root / LESSON, marker)}" in out, out
    assert words in out


def test_page_in_no_toctree_fails_the_build(tmp_path):
    root = fixture_site(tmp_path)
    shutil.copy(root / LESSON, root / "01Mod/01Chap/02Orphan.md")
    proc = sphinx_build(root, tmp_path / "out")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "02Orphan.md" in out and "toctree" in out, out
