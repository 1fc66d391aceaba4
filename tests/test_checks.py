"""`make check`: every fault of the Checks issue is caught with the right file and line; good pages pass.

Each case copies the good fixture tree (tests/fixtures/checks/good) to a temporary folder and
breaks one thing: a bad page from tests/fixtures/checks/bad replaces the lesson, or a small change
to the tree is made. The expected line is the line of the fixture that holds the marker text.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.checks import __main__ as cli
from tools.checks.__main__ import run
from tools.checks.pages import Page

FIX = Path(__file__).resolve().parent / "fixtures" / "checks"
GOOD = FIX / "good"
LESSON = "01Mod/01Chap/01Lesson.md"
CHAPTER = "01Mod/01Chap/README.md"
MIN = dict(min_chars=100, min_lab_chars=50)


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(GOOD, root)
    return root


def line_of(path: Path, marker: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if marker in line:
            return n
    raise AssertionError(f"marker {marker!r} not in {path}")


def assert_found(problems, code, path, line=None):
    hits = [p for p in problems if p.code == code and p.path == path and (line is None or p.line == line)]
    assert hits, f"expected [{code}] at {path}:{line}; got:\n" + "\n".join(p.format() for p in problems)


def test_good_tree_passes(tmp_path):
    assert run(tree(tmp_path), **MIN) == []


def test_good_lesson_is_long_enough_for_the_test_threshold():
    assert Page.load(GOOD / LESSON, GOOD).cjk_prose_chars() >= MIN["min_chars"]


# (bad page, check code, marker on the offending line; None: the problem is reported at line 1 or
# at the end of the page, checked by code and file only)
PAGE_CASES = [
    ("placeholder-todo.md", "placeholder", "TODO"),
    ("placeholder-cn.md", "placeholder", "待补充"),
    ("empty-section.md", "empty-section", "## 实现"),
    ("typography.md", "typography", "使用NCCL"),
    ("image-missing.md", "image", "nope.svg"),
    ("image-remote.md", "image", "https://example.org/ring.png"),
    ("image-no-alt.md", "image", "{figure}"),
    ("heading-two-h1.md", "heading", "# 通信量"),
    ("heading-skip.md", "heading", "#### 细节"),
    ("unsafe-script.md", "unsafe-html", "<script>"),
    ("unsafe-raw-iframe.md", "unsafe-html", "<iframe"),
    ("unsafe-onclick.md", "unsafe-html", "onclick"),
    ("unsafe-js-link.md", "unsafe-html", "javascript:"),
    ("unsafe-style.md", "unsafe-html", "<style>"),
    ("lesson-no-objectives.md", "lesson", None),
    ("lesson-no-exercises.md", "lesson", None),
    ("lesson-few-refs.md", "lesson", "## 参考文献"),
    ("lesson-short.md", "lesson", None),
    ("lesson-local-bibliography.md", "lesson", "{bibliography}"),
    ("broken-link.md", "link", "../02Other/README.md"),
]


@pytest.mark.parametrize("bad,code,marker", PAGE_CASES, ids=[c[0] for c in PAGE_CASES])
def test_bad_page_is_caught(tmp_path, bad, code, marker):
    root = tree(tmp_path)
    shutil.copy(FIX / "bad" / bad, root / LESSON)
    problems = run(root, **MIN)
    line = line_of(root / LESSON, marker) if marker else None
    assert_found(problems, code, LESSON, line)


def test_lesson_messages_say_what_is_missing(tmp_path):
    root = tree(tmp_path)
    shutil.copy(FIX / "bad" / "lesson-no-exercises.md", root / LESSON)
    (msg,) = [p.message for p in run(root, **MIN) if p.code == "lesson"]
    assert "思考题" in msg


def test_unused_image(tmp_path):
    root = tree(tmp_path)
    (root / "01Mod/01Chap/images/old.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert_found(run(root, **MIN), "image", "01Mod/01Chap/images/old.svg")


def test_bad_file_name(tmp_path):
    root = tree(tmp_path)
    (root / LESSON).rename(root / "01Mod/01Chap/lesson-one.md")
    (root / CHAPTER).write_text((root / CHAPTER).read_text().replace("01Lesson", "lesson-one"))
    assert_found(run(root, **MIN), "naming", "01Mod/01Chap/lesson-one.md", 1)


def test_bad_folder_name(tmp_path):
    root = tree(tmp_path)
    (root / "01Mod/chapter2").mkdir()
    (root / "01Mod/chapter2/README.md").write_text("# 第二章\n\n内容。\n")
    assert_found(run(root, **MIN), "naming", "01Mod/chapter2/")


def test_chapter_folder_without_readme(tmp_path):
    root = tree(tmp_path)
    (root / "01Mod/02Chap").mkdir()
    shutil.copy(root / LESSON, root / "01Mod/02Chap/01Lesson.md")
    assert_found(run(root, **MIN), "naming", "01Mod/02Chap/")


def test_page_in_no_toctree(tmp_path):
    root = tree(tmp_path)
    shutil.copy(root / LESSON, root / "01Mod/01Chap/02Orphan.md")
    assert_found(run(root, **MIN), "toctree", "01Mod/01Chap/02Orphan.md", 1)


def test_toctree_entry_with_no_page(tmp_path):
    root = tree(tmp_path)
    (root / CHAPTER).write_text((root / CHAPTER).read_text().replace("01Lesson\n", "01Lesson\n02Missing\n"))
    assert_found(run(root, **MIN), "toctree", CHAPTER, line_of(root / CHAPTER, "02Missing"))


def test_outline_chapter_missing(tmp_path):
    root = tree(tmp_path)
    (root / "tools").mkdir()
    (root / "tools/outline.toml").write_text(
        '[[module]]\ndir = "01Mod"\ntitle = "示例模块"\nen = "Demo"\n'
        'chapters = [["01Chap", "示例章节"], ["02Gone", "缺失的章节"]]\n', encoding="utf-8")
    assert_found(run(root, **MIN), "outline", "01Mod/02Gone/README.md")


def test_outline_chapter_not_in_module_toctree(tmp_path):
    root = tree(tmp_path)
    (root / "tools").mkdir()
    (root / "tools/outline.toml").write_text(
        '[[module]]\ndir = "01Mod"\ntitle = "示例模块"\nen = "Demo"\nchapters = [["01Chap", "示例章节"]]\n',
        encoding="utf-8")
    assert run(root, **MIN) == []
    readme = root / "01Mod/README.md"
    readme.write_text(readme.read_text().replace("01Chap/README\n", ""))
    problems = run(root, **MIN)
    assert_found(problems, "outline", "01Mod/README.md")


@pytest.mark.parametrize("kind", ["crlf", "bom", "latin1"])
def test_bad_encoding(tmp_path, kind):
    root = tree(tmp_path)
    path = root / LESSON
    text = path.read_text(encoding="utf-8")
    if kind == "crlf":
        data, line = text.replace("\n", "\r\n").encode(), 1
    elif kind == "bom":
        data, line = b"\xef\xbb\xbf" + text.encode(), 1
    else:
        data, line = text.replace("## 小结", "caf\xe9\n\n## 小结").encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9"), \
            line_of(path, "## 小结")
    path.write_bytes(data)
    assert_found(run(root, **MIN), "encoding", LESSON, line)


def test_fix_applies_typography_fixes(tmp_path):
    root = tree(tmp_path)
    shutil.copy(FIX / "bad" / "typography.md", root / LESSON)
    run(root, fix=True, **MIN)
    assert "使用 NCCL 在 8 张 GPU 上做通信，然后同步梯度。" in (root / LESSON).read_text(encoding="utf-8")
    assert run(root, **MIN) == []


def test_cli_reports_file_line_and_hint_and_fails(tmp_path, capsys):
    root = tree(tmp_path)
    shutil.copy(FIX / "bad" / "placeholder-todo.md", root / LESSON)
    rc = cli.main(["--root", str(root), "--min-chars", "100"])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"{LESSON}:{line_of(root / LESSON, 'TODO')}: [placeholder]" in out
    assert "修正：" in out


def test_cli_on_given_files_only(tmp_path):
    root = tree(tmp_path)
    shutil.copy(FIX / "bad" / "unsafe-script.md", root / LESSON)
    proc = subprocess.run([sys.executable, "-m", "tools.checks", "--root", str(root), "--min-chars", "100",
                           str(root / CHAPTER)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tools.checks", "--root", str(root), "--min-chars", "100",
                           str(root / LESSON)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == 1 and "[unsafe-html]" in proc.stdout


def test_the_whole_site_passes_make_check():
    """`make check` on the real course content: what contributors see, run by `make test` and CI."""
    problems = run(Path(__file__).resolve().parents[1])
    assert not problems, "\n".join(p.format() for p in problems)
