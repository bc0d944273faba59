# One target per everyday job. CI runs exactly `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck fmt bench bench-smoke clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# uv.lock pins every dependency (hashes included), so each fresh machine installs the same
# versions; `make lock` updates it after pyproject.toml changes.
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --extra dev --python $(BIN)/python --quiet
	touch $(STAMP)

lock: | $(UV)
	$(UV) lock

## run: set up and start Sandlot on SQLite at http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/sandlot serve

## test: lint, type-check, check the layers, and run every test
test: $(STAMP) lint typecheck
	$(BIN)/lint-imports
	$(BIN)/pytest

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
