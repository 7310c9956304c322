# Two commands do all the set-up: `make serve` and `make test`.
# Each creates .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_ARGS ?=

.PHONY: serve test lint typecheck unit bench verify-live clean install dev screenshots system-packages mutate image

# Set-up steps say what they do in one line; pip's and apt's own output goes to .venv/setup.log
# (shown, its last lines, only when a step fails). WHY: why a stamp's install runs now.
STEP := SETUP_LOG=$(VENV)/setup.log sh tools/setup-step
WHY = $(if $(wildcard $@),pyproject.toml changed,once: about 2 minutes)

$(BIN)/python:
	@$(STEP) "creating $(VENV) (first run)" $(PYTHON) -m venv $(VENV)
	@$(STEP) "upgrading pip in $(VENV)" $(BIN)/python -m pip install --upgrade "pip>=24"

# after an install, the bundled contracts are checked once (every $ref, OpenAPI 3.1 validity,
# links: ~1 s) and remembered by their bytes: the first `serve` starts as fast as the next
CHECK_CONTRACTS := $(BIN)/python -c "import contracts; contracts.load_all()"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(STEP) "installing sora-mock into $(VENV) ($(WHY))" $(BIN)/pip install -e .
	@$(STEP) "checking the bundled contracts once" $(CHECK_CONTRACTS)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@$(STEP) "installing sora-mock and its test tools into $(VENV) ($(WHY))" \
	  $(BIN)/pip install -e '.[dev]'
	@$(STEP) "checking the bundled contracts once" $(CHECK_CONTRACTS)
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# compileall: the start-up reads bytecode, not source, even where PYTHONDONTWRITEBYTECODE is set
# (an editable install compiles nothing; a no-op when the caches are current)
serve: $(VENV)/.installed
	$(BIN)/python -m compileall -q mockserver contracts sora_client
	$(BIN)/sora-mock serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The container image (Containerfile), built with podman when present, else docker, from a
# wheelhouse made here (tools/build_image.py; no package index inside the build); an image of
# the same wheelhouse is reused. BASE=IMAGE builds on another base (default python:3.11-slim;
# BASE=$(tools/debian-base) where no registry is reachable); IMAGE_ARGS: options for it.
BASE ?=
IMAGE_ARGS ?=
image: $(VENV)/.installed
	$(BIN)/python tools/build_image.py $(if $(BASE),--base $(BASE)) $(IMAGE_ARGS)

# Debian packages the tests and the quick bench use (the dashboard's browser, Redis, wrk; podman,
# runc and mmdebstrap for the container image's test): installed in one go, only those missing
# (as root, or with sudo)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
SYSTEM_PACKAGES := chromium:/usr/bin/chromium redis-server:/usr/bin/redis-server wrk:/usr/bin/wrk \
  podman:/usr/bin/podman runc:/usr/sbin/runc mmdebstrap:/usr/bin/mmdebstrap
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do [ -x "$${p#*:}" ] || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  DEBIAN_FRONTEND=noninteractive $(STEP) "installing Debian packages:$$missing (once)" \
	    sh -c "$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing"; \
	fi

unit: $(VENV)/.installed-dev system-packages
	$(BIN)/pytest $(PYTEST_ARGS)

# Refresh the README's pictures of the dashboard (docs/dashboard.png at 1280 px, and
# docs/dashboard-phone.png at 390 px), taken by the browser test.
screenshots: $(VENV)/.installed-dev system-packages
	SCREENSHOT_DIR=docs $(BIN)/pytest tests/test_dashboard.py -q -k screenshot -p no:cacheprovider

# the quick bench is a smoke run (figures mean nothing): it keeps the benchmark from rotting
test: lint unit
	$(MAKE) --no-print-directory bench QUICK=1

# every benchmark (benchmarks/bench_*.py); QUICK=1: the smoke run of bench_serving only
# (bench_renders' own --quick takes ~18 s here: too long for the smoke inside `make test`).
# It installs its own tools: wrk (Debian) and, for the full run, Prism 5 (npm) in .cache/
PRISM := .cache/prism/node_modules/.bin/prism
bench: $(VENV)/.installed-dev system-packages $(if $(QUICK),,$(PRISM))
	$(BIN)/python -m benchmarks $(if $(QUICK),bench_serving --quick,$(BENCH_ARGS))

$(PRISM):
	npm install --prefix .cache/prism --no-audit --no-fund --loglevel=error @stoplight/prism-cli@5

# Mutation testing (mutmut 3), not part of `make test`: each module against its own fast tests,
# at the lowest CPU priority; summary in reports/mutation.md. MODULES="mockserver/state/faults.py ..."
# picks modules (default: all, tens of minutes); tests/mutation/mutate.py lists them.
# SINCE=<commit> mutates only the functions changed since that commit (the habit after a change).
$(VENV)/.installed-mutation: pyproject.toml | $(VENV)/.installed-dev
	@$(STEP) "installing mutmut into $(VENV)" $(BIN)/pip install -e '.[dev,mutation]'
	@touch $@

mutate: $(VENV)/.installed-mutation
	nice -n 19 $(BIN)/python tests/mutation/mutate.py $(if $(SINCE),--since $(SINCE)) $(MODULES)

# Check live providers against the contracts (needs their keys). One with PROVIDER=gptge
# [BASE_URL=...] (no key: exit 4), or every provider when PROVIDER is not set (those without a
# key are skipped).
PROVIDERS := gptproto-v3 gptproto-videos gptproto-chat gptge vtrix
verify-live: $(VENV)/.installed-dev
	@set -e; for p in $(or $(PROVIDER),$(PROVIDERS)); do \
	  $(BIN)/sora-mock verify --provider $$p $(if $(BASE_URL),--base-url $(BASE_URL)) \
	    $(if $(PROVIDER),,--skip-without-key) $(VERIFY_ARGS); \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis .cache reports/mutation
