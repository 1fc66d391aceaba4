"""Shared fixtures: one strict build of the whole site per test session, and a local web server."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.serve import CHROMIUM, CHROMIUM_ARGS, serve

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Build:
    out: Path       # the html output folder
    log: str        # what sphinx-build printed

    def page(self, docname: str) -> Path:
        return self.out / f"{docname}.html"

    def pages(self) -> list[Path]:
        return sorted(p for p in self.out.rglob("*.html") if "_static" not in p.parts)


def sphinx_build(srcdir: Path, outdir: Path, *extra: str, confdir: Path | None = None):
    """Run sphinx-build strictly (warnings are errors) in a subprocess; return the process."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-q",
           str(srcdir), str(outdir), *extra]
    if confdir is not None:
        cmd += ["-c", str(confdir)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The whole course, built once, clean, with -j auto like `make html`."""
    out = tmp_path_factory.mktemp("site") / "html"
    proc = sphinx_build(ROOT, out, "-j", "auto", "-d", str(out.parent / "doctrees"))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx-build failed:\n{log}"
    return Build(out, log)


@pytest.fixture(scope="session")
def server(site):
    """Serve the built site on 127.0.0.1 (an ephemeral port); yields the base URL."""
    with serve(site.out) as base:
        yield base


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: skip without it, except under CI, where a skip would hide a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed (apt-get install chromium); browser tests cannot be skipped under CI")
        pytest.skip("Chromium is not installed (apt-get install chromium); skipping browser tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Debian Chromium through Playwright; never downloads a browser. Per module, so that
    tests of tools that drive Chromium themselves (pdf, bench) do not run inside its event loop."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
