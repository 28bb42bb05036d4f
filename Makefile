# depotflow: `make run` serves on 127.0.0.1:8000; `make test` runs every check on SQLite and PostgreSQL.
SHELL := /bin/bash
.DEFAULT_GOAL := run

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := 3.11
export UV_COMPILE_BYTECODE := 1
# Byte-code caching keeps every `depotflow` process start (CLI tests, serve) fast.
unexport PYTHONDONTWRITEBYTECODE

APT_PKGS := postgresql chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
UV := .tools/bin/uv
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: sysdeps setup assets run test lint bench clean

sysdeps:  ## Debian packages (only when root and something is missing)
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages (run as root or install them): $$missing" >&2; exit 1; fi; \
	fi

$(UV):
	python3.11 -m venv .tools && .tools/bin/pip install -q --disable-pip-version-check uv==0.13.9

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked -q && touch $@

# Front-end assets (Bootstrap, htmx, icon sprite; axe-core for the browser tests) from package-lock.json,
# copied out of node_modules by scripts/vendor.mjs. The vendor directories are git-ignored build output.
VENDOR_STAMP := src/depotflow/ui/static/vendor/.built

$(VENDOR_STAMP): package.json package-lock.json scripts/vendor.mjs scripts/vendor-manifest.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	node scripts/vendor.mjs
	touch $@

assets: $(VENDOR_STAMP)  ## vendor the front-end assets (needs node and npm)

setup: sysdeps .venv/.synced $(VENDOR_STAMP)

run: setup  ## migrate ./var/depotflow.db, create the first admin and, on an empty database, the demo plant (passwords printed once), serve
	.venv/bin/depotflow demo --if-empty && .venv/bin/depotflow serve --host $(HOST) --port $(PORT)

lint: setup
	.venv/bin/ruff check src tests bench docs
	.venv/bin/ruff format --check src tests bench docs
	.venv/bin/lint-imports --no-cache
	.venv/bin/mypy

test: setup lint  ## the whole suite, every database test on SQLite and PostgreSQL
	$(PY) -m pytest

bench: setup  ## load benchmarks against the hello-world baseline: authenticated route, procurement (needs wrk)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/auth_vs_baseline.py
	$(PY) bench/procurement_vs_baseline.py

clean:
	rm -rf .venv .tools var node_modules src/depotflow/ui/static/vendor tests/e2e/vendor
