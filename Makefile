# Shared by people and CI. `make demo` and `make test` work on a fresh Debian 12 machine as root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SYSTEM_PACKAGES := dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved redis-server redis-sentinel postgresql nginx chromium python3-venv npm

.PHONY: help install system-deps demo test test-unit test-integration e2e lint fmt migrate htmx icons clean

help:
	@echo "make demo   - install, start private Dovecot/Redis/SMTP with demo mail, serve on :8000"
	@echo "make test   - lint plus the whole test suite against real services"
	@echo "make lint | fmt | migrate | test-unit | test-integration | e2e | icons | clean"

system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  if [ $$pkg = python3-venv ] && $(PYTHON) -c "import ensurepip" 2>/dev/null; then continue; fi; \
	  if [ $$pkg = npm ] && command -v npm >/dev/null; then continue; fi; \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then echo "Missing system packages; as root run: apt-get update && apt-get install -y$$missing" >&2; exit 1; fi; \
	  echo "Installing system packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	$(MAKE) system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

NODE_STAMP := node_modules/.installed-stamp

# Test tools from npm (axe-core for the browser tests' accessibility checks), pinned in package.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

# static/icons.svg from the pinned lucide-static package.
icons: $(NODE_STAMP)
	$(BIN)/python tools/build_icons.py node_modules/lucide-static

demo: install
	$(BIN)/webmail devservices --seed --serve --port 8000

test: lint
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	$(BIN)/webmail db upgrade

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
