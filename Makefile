# Two commands a learner needs:  make lab   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Extra pip options, e.g. on Linux without a GPU, to take PyTorch's small CPU build:
#   make test PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_ARGS ?=
NOTEBOOKS := notebooks exercises solutions
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
                --nbval-cell-timeout 120 --nbval-kernel-startup-timeout 120

.PHONY: lab test help notebooks exercises bench

help:
	@echo "make lab    open the course in JupyterLab (creates .venv on first use)"
	@echo "make test   run every check: ruff, the docstrings' examples, unit and property tests,"
	@echo "            nbval over every notebook,"
	@echo "            real-browser tests of JupyterLab when a Chromium is installed"
	@echo "make bench  print calculator latency, notebook times, import time, planner throughput"

# (Re)install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -e ".[test,measure,browser,instructor]"
	touch $(STAMP)

# JupyterLab refuses to run as root (containers, Binder-like images) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The server's root is the course, not notebooks/ (a file argument alone would make its folder
# the root, and exercises/ and solutions/ unreachable from JupyterLab's file browser).
lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" notebooks/00_start_here.ipynb

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m trainmath.exercises --check
	$(BIN)/python -m pytest -q -p no:cacheprovider --doctest-modules trainmath --doctest-glob README.md README.md
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_NBVAL) tests $(NOTEBOOKS)

# Maintainers: regenerate exercises from solutions, re-execute every notebook in place.
exercises: $(STAMP)
	$(BIN)/python -m trainmath.exercises

bench: $(STAMP)
	$(BIN)/python bench/run.py

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py
