# The two commands of the README: `make demo` and `make test`.
# Both create .venv if missing. `make demo` installs plastix alone (what the demo needs); `make test`
# also installs the test extras (pytest, Ray, Playwright, Box2D, TensorBoard, mkdocs); its tests build the
# documentation site strictly (tests/test_docs.py). Each reinstalls when
# pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BASE := $(VENV)/.plastix-installed
EXTRAS := $(VENV)/.plastix-test-installed

.PHONY: demo test bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

$(EXTRAS): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(BASE) $(EXTRAS)

install: $(BASE)

demo: $(BASE)
	$(VENV)/bin/plastix demo --out demo_runs

test: $(EXTRAS)
	$(PY) -m pytest -n 2 --durations=10

bench: $(BASE)
	$(PY) benchmarks/bench_reinforce.py

clean:
	rm -rf $(VENV) demo_runs runs site .pytest_cache
