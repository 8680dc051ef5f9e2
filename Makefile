# The two commands (see README): `make run` and `make test`. Both set up what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup sandbox-image prefect-server run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# A Docker engine (installed and started if missing) and the sandbox image (built locally if missing).
sandbox-image:
	bash deployments/docker-engine.sh
	bash codemint/sandbox/build_image.sh

# A local Prefect server for the UI (http://127.0.0.1:4200); runs and re-runs report to it.
prefect-server: setup
	bash deployments/prefect-server.sh

run: setup sandbox-image prefect-server
	PREFECT_API_URL=http://127.0.0.1:4200/api $(BIN)/codemint run $(ARGS)

test: setup sandbox-image
	$(BIN)/ruff check .
	$(BIN)/mypy codemint
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: setup sandbox-image
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
