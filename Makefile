# Two commands on a fresh machine: `make demo` and `make test` (see README "Quick start").
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; override on a GPU box, e.g. `make setup TORCH=torch==2.13.0+cu126`.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
# The demo's port: `make demo PORT=8123`.
PORT ?= 8000

.PHONY: setup demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[ml,test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) manage.py demo --port $(PORT)

# The floor plan (pyproject.toml [tool.importlinter]): which app may import which.
lint: setup
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

clean:
	rm -rf var/ .pytest_cache
