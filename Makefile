# Two commands do all the set-up: `make serve` and `make test`.
# Each creates .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_ARGS ?=

.PHONY: serve test lint typecheck unit bench verify-live clean install dev screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

serve: $(VENV)/.installed
	$(BIN)/sora-mock serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The dashboard tests drive Debian's Chromium; install the package only when it is missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	@echo "installing Debian's chromium for the dashboard tests (once)"
	@$(SUDO) apt-get update -qq >/dev/null
	@DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

unit: $(VENV)/.installed-dev $(CHROMIUM)
	$(BIN)/pytest $(PYTEST_ARGS)

# Refresh the README's picture of the dashboard (docs/dashboard.png), taken by the browser test.
screenshots: $(VENV)/.installed-dev $(CHROMIUM)
	SCREENSHOT_DIR=docs $(BIN)/pytest tests/test_dashboard.py -q -k screenshot -p no:cacheprovider

test: lint unit

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

# Check live providers against the contracts (needs their keys; skipped without). One with
# PROVIDER=gptge [BASE_URL=...], or every provider when PROVIDER is not set.
PROVIDERS := gptproto-v3 gptproto-videos gptproto-chat gptge vtrix
verify-live: $(VENV)/.installed-dev
	@set -e; for p in $(or $(PROVIDER),$(PROVIDERS)); do \
	  $(BIN)/sora-mock verify --provider $$p $(if $(BASE_URL),--base-url $(BASE_URL)) $(VERIFY_ARGS); \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis
