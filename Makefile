# The two commands: `make up` runs GardenOS, `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
APT_PACKAGES := etcd-server haproxy

.PHONY: up test lint format bench schema system-deps clean

up: $(RUNTIME_STAMP)
	$(BIN)/gardenos up

test: $(DEV_STAMP) system-deps lint
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# wrk (the api benchmark's load generator) comes from Debian; installed only when missing.
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null 2>&1 || { echo "installing from Debian: wrk"; $(call apt_install,wrk); }
	$(BIN)/python -m bench

# Rewrite src/gardenos/db/schema.sql from the migrations (commit it with the migration that changed it).
schema: $(DEV_STAMP)
	GARDENOS_UPDATE_SCHEMA=1 $(BIN)/pytest -q tests/integration/db/test_migrations.py -k snapshot

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		echo "python3 -m venv failed: installing Debian's python3-venv"; \
		$(call apt_install,python3-venv) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP)

# etcd and HAProxy come from Debian for the cluster tests; installed only when missing.
system-deps:
	@missing=""; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	command -v haproxy >/dev/null 2>&1 || missing="$$missing haproxy"; \
	if [ -n "$$missing" ]; then echo "installing from Debian:$$missing"; $(call apt_install,$$missing); fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# apt-get as root, through sudo otherwise; `apt-get update` first, as a fresh machine has no package lists.
define apt_install
	{ if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(1) >/dev/null; }
endef
