# Two entry points: `make run` (install, build the index, serve) and `make test` (install dev extras, lint, type-check, test).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test install install-dev index serve lint typecheck pytest browser eval clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

index: install
	$(BIN)/knee-assistant ingest corpus/ --if-stale

serve: index
	$(BIN)/knee-assistant serve

run: serve

lint: install-dev
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy

# tests/test_browser.py drives Debian's Chromium (Playwright's own browser download is never used).
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

pytest: install-dev browser
	$(BIN)/pytest

test: lint typecheck pytest

eval: index
	$(BIN)/knee-assistant eval evals/suites/*.yaml --report .knee-data/eval-report

clean:
	rm -rf $(VENV) .knee-data .mypy_cache .pytest_cache .ruff_cache
