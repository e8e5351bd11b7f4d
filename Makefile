# Two commands: `make demo` (set up, run the main job) and `make test` (set up, run every check and test).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-test system-deps lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test,channels]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/dunning demo

system-deps:
	bash scripts/setup-test-env.sh

lint: install-test
	$(VENV)/bin/ruff check src tests $(wildcard bench)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -r src -c pyproject.toml
	$(VENV)/bin/deptry src

test: install-test system-deps lint
	$(VENV)/bin/pytest

# The benchmarks, in the order they run; each is bench/<name>.py.
# side_by_side last: the database-bound ones again on SQLite and PostgreSQL, side by side (#23).
BENCHES := intake render_lint plan outcomes dispatch segmentation crash allocation lint_quality routes cases workers \
           side_by_side

bench: install-test
	set -e; for b in $(BENCHES); do $(PY) bench/$$b.py; done

clean:
	rm -rf $(VENV) .dunning .pytest_cache .mypy_cache .ruff_cache
