# The two commands a new machine needs (see README.md):
#   make check   set up, then run the main job (bare `check-spec`)
#   make test    set up, then run the test suite
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: setup check test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Graphviz (dot) with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

check: setup
	$(BIN)/check-spec

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/bench_engines.py

clean:
	rm -rf $(VENV) build *.egg-info
