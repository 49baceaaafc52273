# Two commands a learner needs:  make lab   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOKS := notebooks exercises solutions
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
                --nbval-cell-timeout 120 --nbval-kernel-startup-timeout 120

.PHONY: lab test help notebooks exercises

help:
	@echo "make lab    open the course in JupyterLab (creates .venv on first use)"
	@echo "make test   run every check: ruff, unit and property tests, nbval over every notebook"

# (Re)install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# JupyterLab refuses to run as root (containers, Binder-like images) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/00_start_here.ipynb

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m trainmath.exercises --check
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_NBVAL) tests $(NOTEBOOKS)

# Maintainers: regenerate exercises from solutions, re-execute every notebook in place.
exercises: $(STAMP)
	$(BIN)/python -m trainmath.exercises

notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py
