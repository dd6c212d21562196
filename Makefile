# TwinSpace on Jupyter -- developer / CI entry points.
#   make venv      python venv (.venv) with the project + test extras, node proxy (node_modules)
#   make chromium  system chromium + acl + poppler-utils (apt-get, root only; no-op when present)
#   make lint      ruff
#   make user-env  the members' Python env in /opt/twinspace/user (root only; no-op when current)
#   make test      venv + chromium + user-env, then ruff and pytest
#   make demo      venv + user-env, then `twinspace demo` (a demo hub on port 8000)
#   make i18n      re-extract the apps' strings and update the en/fr/de catalogs
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
# Test modules run two at a time (each module's tests in one worker, so a module's hub
# serves all of them): most of their time is waiting on real hubs, servers and kernels.
TEST_WORKERS ?= 2

.PHONY: venv chromium lint test user-env demo i18n

venv: $(PY_STAMP) $(NODE_STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[test]'
	# jsonschema's optional IRI check builds a parser at every import (1-10 s per service,
	# hub and server start); nothing here validates IRIs (twinspace_hub/userenv.py too).
	$(VPY) -m pip uninstall -q -y rfc3987-syntax
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

chromium:
	@if command -v chromium >/dev/null 2>&1 && command -v setfacl >/dev/null 2>&1 \
	    && command -v pdfinfo >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium acl poppler-utils \
	    || { apt-get update \
	         && apt-get install -y --no-install-recommends chromium acl poppler-utils; }; \
	elif command -v chromium >/dev/null 2>&1; then \
	  echo "chromium present; acl (setfacl) missing and not root: skipping"; \
	else \
	  echo "WARNING: chromium missing and not root: browser tests will be skipped" >&2; \
	fi

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .

test: venv chromium user-env
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest -q -ra --durations=30 -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) tests

# The members' servers run as system users, which cannot use .venv (its Python may live
# under /root): they get a venv of their own from Debian's python3. Only root can build
# it (and only a root hub isolates members), so others skip it.
USER_ENV ?= /opt/twinspace/user

user-env: $(PY_STAMP)
	@if [ "$$(id -u)" = 0 ]; then \
	  $(VPY) -m twinspace_hub.userenv --prefix $(USER_ENV); \
	else \
	  echo "user-env: not root, skipping the members' environment (isolation tests skip too)"; \
	fi

# A demo hub in ./demo-data: schools, teachers, pupils and a space are made the first time;
# the address and the logins are printed; Ctrl-C stops it. DEMO_ARGS="--port 8080" etc.
DEMO_ARGS ?=

demo: venv user-env
	$(VENV)/bin/twinspace demo $(DEMO_ARGS)

# Translations (F36): extract every _()/ngettext()/N_() string of the apps (babel.cfg) into
# the template, then merge it into each language's .po (new strings come in empty or fuzzy:
# tests/test_i18n.py fails until a translator fills them in). English is filled from the
# msgids. No .mo files: twinspace_kernel/i18n.py compiles the .po files in memory.
LOCALE_DIR := twinspace_kernel/locale
I18N_LANGS := en fr de

i18n: $(PY_STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-default-keywords \
	  -k _ -k ngettext:1,2 -k N_ --add-location=file --sort-by-file \
	  --project TwinSpace --version 0.1.0 \
	  --copyright-holder "TwinSpace contributors" -o $(LOCALE_DIR)/twinspace.pot .
	for lang in $(I18N_LANGS); do \
	  $(VENV)/bin/pybabel update --init-missing -D twinspace -l $$lang \
	    -i $(LOCALE_DIR)/twinspace.pot -d $(LOCALE_DIR); \
	done
	$(VPY) -c 'from twinspace_kernel.i18n import fill_english; fill_english()'
