# Two commands do all the set-up: `make serve` and `make test`.
# Each creates .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_ARGS ?=

.PHONY: serve test lint typecheck unit bench verify-live clean install dev mutate

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

unit: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint unit

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

# Mutation testing (mutmut 3), not part of `make test`: each module against its own fast tests,
# at the lowest CPU priority; summary in reports/mutation.md. MODULES="mockserver/faults.py ..."
# picks modules (default: all, tens of minutes); tests/mutation/mutate.py lists them.
$(VENV)/.installed-mutation: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,mutation]'
	touch $@

mutate: $(VENV)/.installed-mutation
	nice -n 19 $(BIN)/python tests/mutation/mutate.py $(MODULES)

# Check live providers against the contracts (needs their keys; skipped without). One with
# PROVIDER=gptge [BASE_URL=...], or every provider when PROVIDER is not set.
PROVIDERS := gptproto-v3 gptproto-videos gptproto-chat gptge vtrix
verify-live: $(VENV)/.installed-dev
	@set -e; for p in $(or $(PROVIDER),$(PROVIDERS)); do \
	  $(BIN)/sora-mock verify --provider $$p $(if $(BASE_URL),--base-url $(BASE_URL)) $(VERIFY_ARGS); \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis reports/mutation
