"""`make bench`: how fast the site builds and how light its pages are, measured side by side.

Everything is measured in one run on a copy of the sources (the working tree is never touched):

* clean build of the whole site (``-j auto``) and, in the same run, a bare Sphinx build of the
  same sources (myst-parser and the default theme, no other extension); their ratio is what our
  theme and extensions cost. Both index Chinese for search: the bare build with Sphinx's own
  ``zh`` search, which segments with jieba (installed by the ``test`` extra for this), ours with
  rjieba and the course dictionary;
* incremental rebuild after editing one lesson's body: as `make html` runs it (a new
  ``sphinx-build``) and in `make livehtml`'s loop (a fork of its warm build server, preview
  settings); and after editing one toctree;
* peak memory (max RSS) of the clean build;
* output size: total, ``_static``, ``searchindex.js``;
* per page (landing page, a module page, the longest lesson): bytes and requests of a first visit
  in headless Chromium, and how many of those requests go to another host (must be 0);
* Lighthouse 12.2.3 (npm, mobile preset, Debian's Chromium) scores for those pages: the median
  of ``--runs`` runs per page (a single run's performance score varies by about ±5 here).

Times are medians over ``--runs`` runs; the machine is noisy, so compare ratios within one run.
The table is printed and written as JSON to ``_build/bench/bench.json``.

    python -m tools.bench [--src DIR] [--runs N] [--no-lighthouse] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.checks.content import is_lesson  # noqa: E402
from tools.livehtml import BuildServer  # noqa: E402
from tools.serve import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

LIGHTHOUSE = "lighthouse@12.2.3"
IGNORE = shutil.ignore_patterns("_build", ".venv", ".git", "node_modules", "__pycache__", ".pytest_cache")

# A conf.py for the bare build: the same sources with only myst-parser and Sphinx's default theme.
BARE_CONF = """
project = "bare"
language = "zh_CN"
extensions = ["myst_parser"]
myst_enable_extensions = {ext!r}
exclude_patterns = {exclude!r}
suppress_warnings = ["*"]
"""

# Runs one build in a child process and reports its peak memory (its own and its workers').
BUILD_WRAPPER = """
import resource, sys
from sphinx.cmd.build import build_main
rc = build_main(sys.argv[1:])
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(f"@@peak_kib={peak}", file=sys.stderr)
sys.exit(rc)
"""


def sphinx(src: Path, out: Path, *args: str) -> tuple[float, int, str]:
    """Run one build as `make html` does; return (seconds, peak KiB, output)."""
    cmd = [sys.executable, "-c", BUILD_WRAPPER, "-b", "html", "-q", "-j", "auto", *args, str(src), str(out)]
    env = {k: v for k, v in os.environ.items() if k != "AIINFRA_PREVIEW"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=src, env=env)
    took = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({' '.join(cmd[3:])}):\n{log[-3000:]}")
    peak = int(re.search(r"@@peak_kib=(\d+)", log).group(1))
    return took, peak, log


def copy_sources(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=IGNORE, symlinks=True)
    git = src / ".git"
    if git.exists():        # keep git history: the site shows last-updated dates from it
        os.symlink(git, dest / ".git")
    return dest


def pick_pages(html: Path) -> dict[str, str]:
    """The landing page, a module page and the longest lesson of the built site."""
    modules = sorted(p for p in html.glob("[0-9][0-9]*/README.html")
                     if not re.match(r"^\d\d[A-Za-z]+\d\d", p.parent.name))
    lessons = [p for p in html.glob("[0-9][0-9]*/**/*.html")
               if is_lesson(p.relative_to(html).with_suffix(".md").as_posix())
               and "http-equiv=\"refresh\"" not in p.read_text(encoding="utf-8")]
    module = next((p for p in modules if p.parent.name == "04Train"), modules[0] if modules else None)
    lesson = max(lessons, key=lambda p: p.stat().st_size) if lessons else None
    pages = {"landing": "index.html"}
    if module:
        pages["module"] = module.relative_to(html).as_posix()
    if lesson:
        pages["lesson"] = lesson.relative_to(html).as_posix()
    return pages


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def first_visit(html: Path, pages: dict[str, str]) -> dict[str, dict]:
    """Bytes and requests of a first visit (empty cache) to each page, in headless Chromium:
    ``bytes`` uncompressed (every response body as decoded), ``transfer_bytes`` as sent by a
    server that gzips text files like GitHub Pages does."""
    from playwright.sync_api import sync_playwright

    results = {}
    with serve(html, compress=True) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages.items():
            ctx = browser.new_context(viewport={"width": 390, "height": 844})
            page = ctx.new_page()
            responses = []
            page.on("response", lambda r: responses.append(r))
            page.goto(f"{base}/{path}", wait_until="networkidle")
            total, sent, third = 0, 0, 0
            for r in responses:
                if urlparse(r.url).hostname != "127.0.0.1":
                    third += 1
                    continue
                try:
                    total += len(r.body())
                    sent += r.request.sizes()["responseBodySize"]
                except Exception:  # a redirect or an aborted request has no body
                    pass
            results[name] = {"page": path, "bytes": total, "transfer_bytes": sent, "requests": len(responses),
                             "third_party": third}
            ctx.close()
        browser.close()
    return results


METRICS = {"fcp_ms": "first-contentful-paint", "lcp_ms": "largest-contentful-paint",
           "tbt_ms": "total-blocking-time"}


def lighthouse(html: Path, pages: dict[str, str], workdir: Path, cache: Path,
               runs: int = 1) -> dict[str, dict] | str:
    """Lighthouse mobile scores (median of *runs* runs per page, each run's performance score, and the
    median FCP, LCP and TBT), or the reason it could not run. npm installs it once into *cache*."""
    npm = shutil.which("npm")
    if not npm or not Path(CHROMIUM).exists():
        return "skipped: needs Node.js/npm and Debian's chromium"
    prefix = cache / "lighthouse"
    binary = prefix / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        proc = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
                               LIGHTHOUSE], capture_output=True, text=True)
        if proc.returncode != 0:
            return f"skipped: npm install {LIGHTHOUSE} failed: {proc.stderr.strip()[-300:]}"
    scores = {}
    env = dict(os.environ, CHROME_PATH=CHROMIUM)
    with serve(html, compress=True) as base:
        for name, path in pages.items():
            results = []
            for i in range(runs):
                report = workdir / f"lh-{name}-{i}.json"
                cmd = [str(binary), f"{base}/{path}", "--quiet", "--output=json", f"--output-path={report}",
                       "--only-categories=performance,accessibility,best-practices,seo",
                       "--chrome-flags=" + " ".join(["--headless=new", *CHROMIUM_ARGS])]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
                if proc.returncode != 0 or not report.exists():
                    results = {"error": proc.stderr.strip()[-300:]}
                    break
                results.append(json.loads(report.read_text(encoding="utf-8")))
            if isinstance(results, dict):
                scores[name] = results
                continue
            cats = {k: [round(100 * r["categories"][k]["score"]) for r in results if r["categories"][k]["score"] is not None]
                    for k in results[0]["categories"]}
            scores[name] = {k: round(statistics.median(v)) if v else None for k, v in cats.items()}
            scores[name]["performance_runs"] = cats["performance"]
            for key, audit in METRICS.items():
                scores[name][key] = round(statistics.median(r["audits"][audit]["numericValue"] for r in results))
    return scores


SEARCH_PAGES = 250
SEARCH_QUERIES = ["流水线 并行", "显存 带宽", "KV Cache 量化"]
SEARCH_JS = """
async (q) => {
  // the answer itself: parse the query and rank the pages (median of 7 runs)
  const times = [];
  let found = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const [a, b, c, d, e] = Search._parseQuery(q);
    found = Search._performSearch(a, b, c, d, e).length;
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  // and what a reader sees: from the query to the first result in the list (or to "no results")
  document.getElementById("search-results").replaceChildren();
  const t0 = performance.now();
  Search.performSearch(q);
  const shown = await new Promise((resolve) => {
    const poll = () => {
      if (document.querySelector("#search-results ul.search li")) resolve(true);
      else if (Search.status.innerText !== "") resolve(false);  // finished with no result
      else requestAnimationFrame(poll);
    };
    poll();
  });
  return {answer_ms: times[3], first_result_ms: shown ? performance.now() - t0 : null, results: found};
}
"""


def pad_site(src: Path, pages: int) -> int:
    """Grow a copy of the site to *pages* source pages with copies of its lessons (renamed,
    outside every toctree), so that search is measured on a site of the size the target names."""
    lessons = sorted(p for p in src.glob("[0-9][0-9]*/**/*.md") if is_lesson(p.relative_to(src).as_posix())
                     and "code" not in p.parts)
    have = len([p for p in src.rglob("*.md") if not set(p.parts) & {"_build", ".venv", "node_modules"}])
    pad = src / "zz-bench-pad"
    pad.mkdir()
    for i in range(max(0, pages - have)):
        lesson = lessons[i % len(lessons)]
        text = lesson.read_text(encoding="utf-8").replace("# ", f"# 副本 {i}：", 1)
        # figures and links point next to the original: drop them in the copy
        text = re.sub(r"```\{figure\}.*?```", "", text, flags=re.S)
        (pad / f"p{i:03d}.md").write_text(text, encoding="utf-8")
    return max(have, pages)


def search_latency(html: Path) -> dict[str, dict]:
    """Time Chinese and mixed queries on the search page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    out = {}
    with serve(html, compress=True) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/search.html", wait_until="networkidle")
        page.wait_for_function("typeof Search !== \"undefined\" && Search.hasIndex()")
        for q in SEARCH_QUERIES:
            r = page.evaluate(SEARCH_JS, q)
            out[q] = {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}
        browser.close()
    return out


def edit_lesson_body(src: Path) -> Path:
    lessons = [p for p in src.glob("[0-9][0-9]*/**/*.md")
               if is_lesson(p.relative_to(src).as_posix()) and "code" not in p.parts]
    lesson = max(lessons, key=lambda p: p.stat().st_size) if lessons else src / "index.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\n补充一句用于测量增量构建的文字。\n", encoding="utf-8")
    return lesson


def edit_toctree(src: Path) -> Path:
    for readme in sorted(src.glob("[0-9][0-9]*/README.md")):
        text = readme.read_text(encoding="utf-8")
        if "```{toctree}" in text:
            readme.write_text(text.replace("```{toctree}\n", "```{toctree}\n:titlesonly:\n", 1), encoding="utf-8")
            return readme
    raise SystemExit("no module README with a toctree to edit")


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def run(src: Path, runs: int, with_lighthouse: bool, out: Path, search_pages: int = SEARCH_PAGES) -> dict:
    from conf import exclude_patterns, myst_enable_extensions  # noqa: F401  (the real site's settings)

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="aiinfra-bench-"))
    try:
        bare_conf = work / "bare-conf"
        bare_conf.mkdir()
        (bare_conf / "conf.py").write_text(BARE_CONF.format(
            ext=list(myst_enable_extensions), exclude=list(exclude_patterns)), encoding="utf-8")

        clean, bare, peaks = [], [], []
        for i in range(runs):
            s = copy_sources(src, work / f"src-{i}")
            t, peak, _ = sphinx(s, work / f"html-{i}", "-d", str(work / f"dt-{i}"))
            clean.append(t)
            peaks.append(peak)
            t, _, _ = sphinx(s, work / f"bare-{i}", "-d", str(work / f"bare-dt-{i}"), "-c", str(bare_conf))
            bare.append(t)
        # incremental rebuilds on the first copy (its build is the reference output)
        s, html, dt = work / "src-0", work / "html-0", work / "dt-0"
        pages = pick_pages(html)
        sizes = {"total_bytes": dir_size(html), "static_bytes": dir_size(html / "_static"),
                 "searchindex_bytes": (html / "searchindex.js").stat().st_size,
                 "pages": len(list(html.rglob("*.html")))}
        visits = first_visit(html, pages)
        lesson_edits, toctree_edits, preview_edits = [], [], []
        for _ in range(runs):
            edit_lesson_body(s)
            lesson_edits.append(sphinx(s, html, "-d", str(dt))[0])
        # the loop of `make livehtml`: its build server makes the first build itself, then forks
        # one warm child per edit (tools/livehtml.py), with the preview settings
        ps = copy_sources(src, work / "preview-src")
        live = BuildServer(cwd=ps, env={"AIINFRA_PREVIEW": "1"})
        live_args = ["-b", "html", "-q", "-j", "auto", str(ps), str(work / "preview-html"),
                     "-d", str(work / "preview-dt")]
        try:
            if live.build(live_args) != 0:
                raise SystemExit("the live preview's first build failed")
            for _ in range(runs):
                edit_lesson_body(ps)
                t0 = time.perf_counter()
                if live.build(live_args) != 0:
                    raise SystemExit("a live preview rebuild failed")
                preview_edits.append(time.perf_counter() - t0)
        finally:
            live.stop()
        for i in range(runs):
            inc_src = copy_sources(src, work / f"inc-{i}")
            shutil.copytree(work / f"html-{i}", work / f"inc-html-{i}")
            shutil.copytree(work / f"dt-{i}", work / f"inc-dt-{i}")
            edit_toctree(inc_src)
            toctree_edits.append(sphinx(inc_src, work / f"inc-html-{i}", "-d", str(work / f"inc-dt-{i}"))[0])
        # search on a site of SEARCH_PAGES pages
        big = copy_sources(src, work / "search-src")
        search_pages = pad_site(big, search_pages)
        sphinx(big, work / "search-html", "-d", str(work / "search-dt"))
        search = {"pages": search_pages,
                  "searchindex_bytes": (work / "search-html" / "searchindex.js").stat().st_size,
                  "queries": search_latency(work / "search-html")}
        report = {
            "runs": runs,
            "clean_build_s": median(clean),
            "bare_build_s": median(bare),
            "ratio_vs_bare": round(statistics.median(clean) / statistics.median(bare), 2),
            "incremental_lesson_s": median(lesson_edits),
            "incremental_lesson_preview_s": median(preview_edits),
            "incremental_toctree_s": median(toctree_edits),
            "peak_memory_mib": round(max(peaks) / 1024, 1),
            **sizes,
            "first_visit": visits,
            "search": search,
            "lighthouse": lighthouse(html, pages, work, out, runs) if with_lighthouse else "skipped: --no-lighthouse",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def table(r: dict) -> str:
    kib = lambda b: f"{b / 1024:,.0f} KiB"  # noqa: E731
    rows = [
        ("整站全新构建（-j auto，中位数）", f"{r['clean_build_s']:.2f} s"),
        ("同源裸 Sphinx 构建（myst + 默认主题）", f"{r['bare_build_s']:.2f} s"),
        ("两者之比（目标 ≤ 1.3）", f"{r['ratio_vs_bare']:.2f}×"),
        ("增量构建：改一课正文，make livehtml 的设置（目标 ≤ 2 s）", f"{r['incremental_lesson_preview_s']:.2f} s"),
        ("增量构建：改一课正文，make html 的设置", f"{r['incremental_lesson_s']:.2f} s"),
        ("增量构建：改一个 toctree", f"{r['incremental_toctree_s']:.2f} s"),
        ("构建内存峰值", f"{r['peak_memory_mib']:.0f} MiB"),
        ("页面数", str(r["pages"])),
        ("输出总大小", kib(r["total_bytes"])),
        ("_static 大小", kib(r["static_bytes"])),
        ("searchindex.js 大小", kib(r["searchindex_bytes"])),
    ]
    for name, v in r["first_visit"].items():
        rows.append((f"首次访问 {name}（{v['page']}）",
                     f"{kib(v['bytes'])}（gzip 传输 {kib(v['transfer_bytes'])}），{v['requests']} 个请求，"
                     f"第三方 {v['third_party']} 个"))
    search = r["search"]
    rows.append((f"搜索：{search['pages']} 页站点的 searchindex.js", kib(search["searchindex_bytes"])))
    for q, v in search["queries"].items():
        rows.append((f"搜索“{q}”（目标 < 200 ms）",
                     f"求解 {v['answer_ms']:.1f} ms，" + (f"首条结果 {v['first_result_ms']:.0f} ms，"
                                                       if v["first_result_ms"] is not None else "") +
                     f"{v['results']} 个结果"))
    lh = r["lighthouse"]
    if isinstance(lh, dict):
        for name, v in lh.items():
            if "error" in v:
                rows.append((f"Lighthouse 移动端 {name}", v["error"]))
                continue
            cats = ", ".join(f"{k} {v[k]}" for k in ("performance", "accessibility", "best-practices", "seo"))
            rows.append((f"Lighthouse 移动端 {name}（中位数，目标 ≥ 95/100/100/100）",
                         f"{cats}；各次性能分 {v['performance_runs']}；"
                         f"FCP {v['fcp_ms'] / 1000:.1f} s，LCP {v['lcp_ms'] / 1000:.1f} s，TBT {v['tbt_ms']:.0f} ms"))
    else:
        rows.append(("Lighthouse", lh))
    width = max(len(a) for a, _ in rows) + 2
    return "\n".join(f"{a:<{width}}{b}" for a, b in rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="构建时间与页面体积基准测试（make bench）")
    ap.add_argument("--src", type=Path, default=ROOT, help="站点源目录（默认：本仓库）")
    ap.add_argument("--runs", type=int, default=3, help="每项测量重复的次数，取中位数")
    ap.add_argument("--no-lighthouse", action="store_true", help="不运行 Lighthouse")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "bench")
    args = ap.parse_args(argv)
    report = run(args.src.resolve(), args.runs, not args.no_lighthouse, args.out)
    print(table(report))
    print(f"\nJSON：{args.out / 'bench.json'}")


if __name__ == "__main__":
    main()
