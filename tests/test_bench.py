"""`make bench` runs on a tiny site and reports every field (no test asserts a time)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools import bench

FIX = Path(__file__).resolve().parent / "fixtures"

FIELDS = {"runs", "clean_build_s", "bare_build_s", "ratio_vs_bare", "incremental_lesson_s",
          "incremental_lesson_preview_s", "search",
          "incremental_toctree_s", "peak_memory_mib", "total_bytes", "static_bytes",
          "searchindex_bytes", "pages", "first_visit", "lighthouse"}


@pytest.mark.browser
def test_bench_reports_every_field(tmp_path, chromium):
    src = tmp_path / "site"
    shutil.copytree(FIX / "checks" / "good", src)
    shutil.copy(FIX / "bench" / "conf.py", src / "conf.py")
    (src / "conf.py").write_text((src / "conf.py").read_text().replace(
        "parents[3]", f"parents[0] / {str(Path(__file__).resolve().parents[1])!r}"), encoding="utf-8")
    out = tmp_path / "bench"
    report = bench.run(src, runs=1, with_lighthouse=shutil.which("npm") is not None, out=out, search_pages=12)
    assert FIELDS <= report.keys()
    assert json.loads((out / "bench.json").read_text(encoding="utf-8")) == report
    for key in FIELDS - {"first_visit", "lighthouse", "runs", "search"}:
        assert report[key] > 0, key
    assert set(report["first_visit"]) == {"landing", "module", "lesson"}
    for visit in report["first_visit"].values():
        assert visit["bytes"] > 0 and visit["requests"] > 0
        assert visit["third_party"] == 0
        assert 0 < visit["transfer_bytes"] < visit["bytes"]  # text files are served gzip-compressed
    search = report["search"]
    assert search["pages"] >= 12 and search["searchindex_bytes"] > 0
    assert set(search["queries"]) == set(bench.SEARCH_QUERIES)
    for q in search["queries"].values():
        assert q["answer_ms"] >= 0 and q["results"] >= 0
        assert (q["first_result_ms"] is None) == (q["results"] == 0)
    if shutil.which("npm"):
        for page, scores in report["lighthouse"].items():
            assert {"performance", "accessibility", "best-practices", "seo"} <= set(scores), (page, scores)
            assert len(scores["performance_runs"]) == 1
            assert scores["fcp_ms"] > 0 and scores["lcp_ms"] > 0 and scores["tbt_ms"] >= 0
    assert "整站全新构建" in bench.table(report)
