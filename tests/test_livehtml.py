"""`make livehtml`'s build server (tools/livehtml.py): first build in itself, rebuilds in forks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.livehtml import BuildServer, main, needs_fresh_server

SITES = Path(__file__).resolve().parent / "sites"


@pytest.fixture
def site(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SITES / "math-good", src)
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(SITES)!r})\n"
                                 "from conf_common import *  # noqa\n", encoding="utf-8")
    server = BuildServer(cwd=src)
    args = ["-b", "html", "-q", "-W", "-j", "auto", str(src), str(tmp_path / "out"), "-d", str(tmp_path / "dt")]
    yield src, tmp_path / "out", server, args
    server.stop()


def test_rebuilds_are_forks_of_one_warm_server(site):
    src, out, server, args = site
    assert server.build(args) == 0
    pid = server.proc.pid
    page = src / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n实时预览新加的一段。\n", encoding="utf-8")
    assert server.build(args) == 0
    assert "实时预览新加的一段" in (out / "index.html").read_text(encoding="utf-8")
    assert server.proc.pid == pid, "the rebuild should come from the same warm server"


def test_a_failed_rebuild_reports_its_status_and_the_server_goes_on(site):
    src, out, server, args = site
    assert server.build(args) == 0
    page = src / "index.md"
    good = page.read_text(encoding="utf-8")
    page.write_text(good + "\n$\\fraq{a}{b}$\n", encoding="utf-8")     # KaTeX error: a warning, -W
    assert server.build(args) != 0
    page.write_text(good + "\n修好了。\n", encoding="utf-8")
    assert server.build(args) == 0
    assert "修好了" in (out / "index.html").read_text(encoding="utf-8")


def test_a_dead_server_is_started_again(site):
    src, out, server, args = site
    assert server.build(args) == 0
    server.proc.kill()
    server.proc.wait()
    assert server.build(args) == 0


@pytest.mark.parametrize("changed, fresh", [
    (["conf.py"], True),
    (["_ext/aiinfra_math.py"], True),
    (["04Train/07Practices/code/zero1.py"], False),
    (["05Infer/README.md", "_static/custom.css"], False),
])
def test_python_the_build_imports_needs_a_fresh_server(tmp_path, changed, fresh):
    assert needs_fresh_server([tmp_path / c for c in changed], tmp_path.resolve()) is fresh


def test_livehtml_takes_sphinx_autobuilds_arguments():
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
