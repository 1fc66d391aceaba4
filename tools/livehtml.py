"""`make livehtml`: sphinx-autobuild's loop with rebuilds forked from a warm process.

sphinx-autobuild watches the sources, rebuilds after each change and reloads the browser. It runs
every rebuild as a new ``python -m sphinx build``, and a new interpreter spends about 1.8 s
importing Sphinx, docutils, the theme, BeautifulSoup and the extensions and compiling the theme's
CSS selectors before it reads the one page that changed: half of a rebuild.

Here the rebuilds are run by a build server: one process that makes the first (full) build itself,
which leaves every module imported and every cache warm, and then forks a child for each rebuild.
The child is an ordinary ``sphinx-build`` run in a copy of that warm process: it reads the
configuration and the pickled environment from disk like any build, so what it writes is what
``sphinx-build`` would write. A change to ``conf.py`` or to a Python file under ``_ext/`` starts a
fresh server first, since a fork would keep the old module. Everything else (watching, serving,
live reload, ``--pre-build``/``--post-build``, every option) is sphinx-autobuild's own.

Usage: ``python -m tools.livehtml`` with sphinx-autobuild's arguments (see the Makefile).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent


class BuildServer:
    """A warm process that runs sphinx-build: the first build in itself, later ones in forks."""

    def __init__(self, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd or Path.cwd()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.livehtml", "--serve-builds", str(req_r), str(rep_w)],
            pass_fds=(req_r, rep_w), cwd=self.cwd,
            env={**self.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))},
        )
        os.close(req_r)
        os.close(rep_w)
        self._requests = os.fdopen(req_w, "w", encoding="utf-8")
        self._replies = os.fdopen(rep_r, encoding="utf-8")

    def stop(self) -> None:
        if self.proc is not None:
            self._requests.close()
            self._replies.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def build(self, sphinx_args: Sequence[str]) -> int:
        """Run ``sphinx-build *sphinx_args``; return its exit status."""
        for _ in range(2):
            if self.proc is None or self.proc.poll() is not None:
                self.stop()
                self.start()
            try:
                self._requests.write(json.dumps(list(sphinx_args)) + "\n")
                self._requests.flush()
                reply = self._replies.readline()
            except (BrokenPipeError, OSError):
                reply = ""
            if reply:
                return int(reply)
            self.stop()     # the server died (killed, out of memory): start a new one once
        return 1


def serve_builds(requests_fd: int, replies_fd: int) -> None:
    """The build server's loop: one JSON list of sphinx-build arguments per line in, exit code out."""
    from sphinx.cmd.build import build_main

    # Ctrl+C in the terminal reaches the whole process group: sphinx-autobuild stops and closes
    # the request pipe, which ends this loop; no traceback from here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(requests_fd, encoding="utf-8")
    replies = os.fdopen(replies_fd, "w", encoding="utf-8")
    warm = False
    for line in requests:
        args = json.loads(line)
        if not warm:
            rc = build_main(args)     # in this process: imports and caches stay for the forks
            if rc == 0:
                warm_up(args)
            # what is alive now is shared with every fork: keep the collector from walking (and so
            # copying) it in each child
            gc.collect()
            gc.freeze()
            warm = True
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = build_main(args)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        replies.write(f"{rc}\n")
        replies.flush()


def warm_up(args: list[str]) -> None:
    """Write one page again in this process, serially: a parallel build writes its pages in worker
    processes, so the theme's CSS selectors (soupsieve) and the code lexers' regular expressions
    (Pygments) were compiled there and died with them; about 0.6 s of every rebuild otherwise.
    The page chosen is the one with the most fenced blocks (code, figures, math); it is rewritten
    unchanged."""
    from sphinx.cmd.build import build_main, get_parser

    try:
        opts = get_parser().parse_args(args)
    except SystemExit:
        return
    srcdir = Path(opts.sourcedir)
    pages = [p for p in srcdir.rglob("*.md") if not ({"_build", ".venv", "node_modules"} & set(p.parts))]
    if not pages:
        return
    page = max(pages, key=lambda p: p.read_text(encoding="utf-8", errors="replace").count("```"))
    at = args.index(opts.outputdir) + 1 if opts.outputdir in args else len(args)
    rest, skip = [], False
    for a in [*args[:at], str(page), *args[at:]]:    # the same build, serial, for this page only
        if skip:
            skip = False
        elif a in ("-j", "--jobs"):
            skip = True
        elif not a.startswith(("-j", "--jobs=")) and a not in ("-a", "-E", "--write-all", "--fresh-env"):
            rest.append(a)
    devnull = open(os.devnull, "w")
    with contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        build_main([*rest, "-j", "1"])
    devnull.close()


def needs_fresh_server(changed: Sequence[Path], srcdir: Path) -> bool:
    """A change to conf.py or to an extension module: a fork would still run the old code."""
    for path in changed:
        path = Path(path).resolve()
        if path.suffix != ".py":
            continue
        if path == srcdir / "conf.py" or (srcdir / "_ext") in path.parents:
            return True
    return False


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve-builds"]:
        serve_builds(int(argv[1]), int(argv[2]))
        return

    import asyncio

    import sphinx_autobuild.__main__ as autobuild
    if not hasattr(os, "fork"):       # Windows: sphinx-autobuild as it is, a new process per build
        autobuild.main(argv)
        return

    import watchfiles
    from sphinx_autobuild.build import Builder
    from sphinx_autobuild.server import RebuildServer
    from sphinx_autobuild.utils import show_command, show_message

    server = BuildServer()

    class ThreadedRebuildServer(RebuildServer):
        """sphinx-autobuild's watcher, calling the builder in a thread of this process (upstream
        pickles it into a new process per change, which could not reach the build server)."""

        async def watch(self) -> None:
            async for changes in watchfiles.awatch(*self.paths, watch_filter=lambda _, path: not self.ignore(path)):
                await asyncio.to_thread(self.change_callback,
                                        changed_paths=[Path(path).resolve() for _, path in changes])
                self.flag.set()

    class WarmBuilder(Builder):
        """sphinx-autobuild's Builder; the sphinx-build step goes to the build server."""

        def __call__(self, *, changed_paths: Sequence[Path]) -> None:
            if changed_paths:
                show_message("Detected changes ({})".format(", ".join(
                    p.as_posix() for p in list(changed_paths)[:5])))
                show_message("Rebuilding...")
                if needs_fresh_server(changed_paths, Path.cwd().resolve()):
                    show_message("Python code changed: restarting the build server")
                    server.stop()
            if self._run_commands(self.pre_build_commands, "pre-build") != 0:
                return
            show_command(["sphinx-build"] + list(self.sphinx_args))
            rc = server.build(self.sphinx_args)
            if rc != 0:
                print(f"Sphinx exited with exit code: {rc}")
                print("The server keeps serving the last good build; fix the error above and save again.")
            else:
                self._run_commands(self.post_build_commands, "post-build")
            show_message(f"Serving on {self.uri}")

    autobuild.Builder = WarmBuilder
    autobuild.RebuildServer = ThreadedRebuildServer
    try:
        autobuild.main(argv)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
