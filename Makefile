# AIInfra course site. `make html` and `make test` set everything up on a fresh machine:
# a virtual environment in .venv, (re)installed whenever pyproject.toml changes.

PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
# `make test` also installs the labs' extra (torch, numpy); `make html` does not need it.
LABS_STAMP := $(VENV)/.installed-labs
BUILDDIR   := _build
# -W: warnings are errors; --keep-going: report all of them first; -n: nitpicky references.
SPHINXOPTS ?= -j auto
STRICT     := -W --keep-going -n

.PHONY: help html livehtml clean linkcheck test check fix bench venv pdf epub

help:
	@echo "make html       建立 .venv 并构建站点到 $(BUILDDIR)/html（警告即错误）"
	@echo "make livehtml   本地实时预览 http://127.0.0.1:8000"
	@echo "make check      快速检查全部内容（占位符、排版、图片、标题、结构……）"
	@echo "make fix        自动修正可安全修正的中文排版问题"
	@echo "make test       运行全部测试（含构建与浏览器测试）"
	@echo "make pdf        生成整门课程和每个模块的 PDF 到 $(BUILDDIR)/pdf"
	@echo "make epub       生成整门课程的 EPUB 到 $(BUILDDIR)/epub"
	@echo "make bench      构建时间与页面体积基准测试"
	@echo "make linkcheck  检查外部链接（需要互联网）"
	@echo "make clean      删除构建产物"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[test]"
	@rm -rf build *.egg-info
	@touch $@

html: $(STAMP)
	$(BIN)/sphinx-build -b html . $(BUILDDIR)/html $(STRICT) $(SPHINXOPTS)
	@echo
	@echo "构建完成，用浏览器打开：file://$(CURDIR)/$(BUILDDIR)/html/index.html"

# Live preview in its own folder: sphinx-autobuild's loop, rebuilds forked from a warm process
# (tools/livehtml.py), without the publishing extensions.
livehtml: $(STAMP)
	AIINFRA_PREVIEW=1 $(BIN)/python -m tools.livehtml . $(BUILDDIR)/live --host 127.0.0.1 --port 8000 \
		--ignore "$(CURDIR)/$(BUILDDIR)/*" --ignore "$(CURDIR)/$(VENV)/*" --ignore "*.pyc" \
		-d $(BUILDDIR)/live-doctrees $(SPHINXOPTS)

linkcheck: $(STAMP)
	$(BIN)/sphinx-build -b linkcheck . $(BUILDDIR)/linkcheck $(SPHINXOPTS)

check: $(STAMP)
	$(BIN)/python -m tools.checks

fix: $(STAMP)
	$(BIN)/python -m tools.checks --fix

$(LABS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet ".[test,labs]"
	@rm -rf build *.egg-info
	@touch $@

test: $(LABS_STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m tools.bench

pdf: $(STAMP)
	$(BIN)/python -m tools.pdf
	@mkdir -p $(BUILDDIR)/html/_downloads && cp $(BUILDDIR)/pdf/*.pdf $(BUILDDIR)/html/_downloads/

epub: $(STAMP)
	$(BIN)/sphinx-build -b epub . $(BUILDDIR)/epub -d $(BUILDDIR)/doctrees-epub $(STRICT)
	@mkdir -p $(BUILDDIR)/html/_downloads && cp $(BUILDDIR)/epub/AIInfra.epub $(BUILDDIR)/html/_downloads/
	@echo "EPUB：$(CURDIR)/$(BUILDDIR)/epub/AIInfra.epub"

clean:
	rm -rf $(BUILDDIR)
