# make train  -> set up .venv if needed, run the default experiment (MLP on circles)
# make test   -> set up .venv if needed, run the test suite
# make bench  -> run every benchmark, write benchmarks/RESULTS.md
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install train test test-fast bench lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

train: install
	$(PY) train.py $(ARGS)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
