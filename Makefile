# The two commands of the README: `make demo` and `make test`.
# Both create .venv if missing and (re)install plastix into it when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.plastix-installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/plastix demo --out demo_runs

test: $(STAMP)
	$(PY) -m pytest -n 2 --durations=10

bench: $(STAMP)
	$(PY) benchmarks/bench_reinforce.py

clean:
	rm -rf $(VENV) demo_runs runs .pytest_cache
