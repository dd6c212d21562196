# TwinSpace on Jupyter -- developer / CI entry points.
#   make venv      python venv (.venv) with the project + test extras, node proxy (node_modules)
#   make chromium  system chromium + acl (apt-get, root only; no-op when already present)
#   make lint      ruff
#   make test      venv + chromium, then ruff and pytest
# Installs are stamp-file based: re-running is a no-op until pyproject.toml /
# package-lock.json change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: venv chromium lint test

venv: $(PY_STAMP) $(NODE_STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

chromium:
	@if command -v chromium >/dev/null 2>&1 && command -v setfacl >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium acl \
	    || { apt-get update && apt-get install -y --no-install-recommends chromium acl; }; \
	elif command -v chromium >/dev/null 2>&1; then \
	  echo "chromium present; acl (setfacl) missing and not root: skipping"; \
	else \
	  echo "WARNING: chromium missing and not root: browser tests will be skipped" >&2; \
	fi

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .

test: venv chromium
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest -q -ra $(PYTEST_ARGS) tests
