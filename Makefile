# The two commands: `make up` runs GardenOS, `make test` runs the whole suite. Both install what they need,
# and every Python package comes from the committed lock file (uv.lock, with hashes), never from open ranges.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# uv itself is pinned by hash in requirements/uv.txt and installed with pip beside the project (.uv/), not
# into the system's Python.
UV_DIR := .uv
UV := $(UV_DIR)/bin/uv
# The system's Python, never one uv would download (only the package registries are reachable).
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Cache and venv may sit on different file systems (CI's clone, /tmp): copy instead of warning about it.
export UV_LINK_MODE := copy

.PHONY: up test install install-runtime lint format bench schema lock lock-upgrade system-deps js-deps \
	dev-up dev-down logs test-failover backup clean web web-deps web-lint browser-deps

up: install-runtime web
	$(BIN)/gardenos up

# Two worker processes (pytest-xdist): much of the suite waits on servers and subprocesses. The cluster
# tests stay together in one worker (tests/cluster/conftest.py); `--dist loadgroup` keeps them in order.
test: install system-deps browser-deps js-deps lint web web-lint
	$(BIN)/pytest -n 2 --dist loadgroup

# The runtime alone for `make up` (dev tools already in the venv are left where they are); everything
# for `make test`. `--locked` fails when uv.lock and pyproject.toml disagree, rather than re-resolving.
install-runtime: $(UV)
	@$(UV) sync --quiet --locked --no-dev --inexact

install: $(UV)
	@$(UV) sync --quiet --locked

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# Re-resolve after editing pyproject.toml's dependencies (keeps every other pin); `lock-upgrade` moves every
# pin to the newest release the ranges allow. Commit uv.lock with the change.
lock: $(UV)
	$(UV) lock

lock-upgrade: $(UV)
	$(UV) lock --upgrade

# wrk (the api benchmark's load generator) comes from Debian; installed only when missing.
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "installing from Debian: wrk"; $(call apt_install,wrk); }
	$(BIN)/python -m bench

# Rewrite src/gardenos/db/schema.sql from the migrations (commit it with the migration that changed it).
schema: install
	GARDENOS_UPDATE_SCHEMA=1 $(BIN)/pytest -q tests/integration/db/test_migrations.py -k snapshot

$(UV): requirements/uv.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or newer"; exit 1; }
	@$(PYTHON) -m pip --version >/dev/null 2>&1 || { \
		echo "$(PYTHON) has no pip: installing Debian's python3-pip"; $(call apt_install,python3-pip); }
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
		--upgrade --target $(UV_DIR) -r requirements/uv.txt
	@touch $@

# etcd and HAProxy come from Debian for the cluster (tests and dev-up); installed only when missing.
system-deps:
	@missing=""; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	command -v haproxy >/dev/null 2>&1 || missing="$$missing haproxy"; \
	if [ -n "$$missing" ]; then echo "installing from Debian:$$missing"; $(call apt_install,$$missing); fi

# Debian's chromium for the web app's end-to-end test (tests/e2e), driven by playwright-core: never a browser
# a tool downloads itself. Apart from system-deps, which dev-up needs without a browser.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "installing from Debian: chromium"; $(call apt_install,chromium); }

# The web app (web/): built at `make up` and `make test` time from its committed package-lock.json, into
# web/dist, which `gardenos up` serves at /. Make's timestamps keep it: only the first `make up` after a
# clone, or after web/ changed, pays for `npm ci` and `vite build`. `make up` installs the build's packages
# alone (`--omit=dev`: no eslint, vitest or playwright); `make test` installs them all.
WEB := web
WEB_SOURCES := $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts \
	$(WEB)/tsconfig.json
web: $(WEB)/dist/index.html

$(WEB)/dist/index.html: $(WEB)/node_modules/.build-deps $(WEB_SOURCES)
	npm run --prefix $(WEB) --silent build -- --logLevel warn

$(WEB)/node_modules/.build-deps: $(WEB)/package-lock.json $(WEB)/package.json
	@$(need_node)
	@if [ $(WEB)/node_modules/.all-deps -nt $(WEB)/package-lock.json ]; then :; else \
		npm ci --prefix $(WEB) --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error; fi
	@touch $@

web-deps: $(WEB)/node_modules/.all-deps

$(WEB)/node_modules/.all-deps: $(WEB)/package-lock.json $(WEB)/package.json
	@$(need_node)
	npm ci --prefix $(WEB) --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@ $(WEB)/node_modules/.build-deps

# eslint and `tsc --noEmit`, then the component tests (Vitest).
web-lint: web-deps
	npm run --prefix $(WEB) --silent lint
	npm run --prefix $(WEB) --silent test

# @supabase/supabase-js for the tests that run the official JS client (tests/js), exactly as its committed
# package-lock.json pins it: node and npm come from Debian when missing, and `npm ci` runs again whenever
# the lock is newer than what node_modules holds (npm ci rewrites node_modules/.package-lock.json).
JS_DIR := tests/js
js-deps: $(JS_DIR)/node_modules/.package-lock.json

$(JS_DIR)/node_modules/.package-lock.json: $(JS_DIR)/package-lock.json $(JS_DIR)/package.json
	@$(need_node)
	npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

# The development cluster: etcd, three Patroni nodes and HAProxy on loopback, with GardenOS served through
# HAProxy's read-write port (Ctrl-C stops GardenOS; the cluster runs on until `make dev-down`).
dev-up: install-runtime system-deps
	$(BIN)/gardenos up --cluster

dev-down: install-runtime
	$(BIN)/gardenos cluster down

# The cluster's logs, every node (`gardenos cluster logs NODE` for one).
logs: install-runtime
	@$(BIN)/gardenos cluster logs --all

test-failover: install-runtime system-deps
	$(BIN)/gardenos cluster failover-test --rounds 3

backup: install-runtime
	$(BIN)/gardenos backup

clean:
	-@[ -x $(BIN)/gardenos ] && $(BIN)/gardenos cluster down >/dev/null 2>&1; true
	rm -rf $(VENV) $(UV_DIR) .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist

# apt-get as root, through sudo otherwise; `apt-get update` first, as a fresh machine has no package lists.
define apt_install
	{ if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(1) >/dev/null; }
endef

# node and npm from Debian when missing.
define need_node
	missing=""; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then echo "installing from Debian:$$missing"; $(call apt_install,$$missing); fi
endef
