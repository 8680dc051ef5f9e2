# The two commands (see README): `make run` and `make test`. Both set up what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
# A strict editable install: build/__editable__.*/ holds one link per source file, laid out as the
# installed package (flows/ -> codemint/flows, ...), so mypy and importers see the real module names.
EDITABLE := --config-settings editable_mode=strict

.PHONY: setup link-tree sandbox-image prefect-server run test lint typecheck bench clean

setup: $(VENV)/.installed link-tree

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]" $(EDITABLE)
	find codemint flows tasks sandbox -type f ! -path '*/__pycache__/*' | sort >$(VENV)/.files
	touch $@

# The link tree is made at install time: a module added or removed since needs a refresh.
link-tree: $(VENV)/.installed
	@find codemint flows tasks sandbox -type f ! -path '*/__pycache__/*' | sort >$(VENV)/.files.new
	@if ! cmp -s $(VENV)/.files.new $(VENV)/.files; then \
		echo "refreshing the editable link tree"; \
		$(BIN)/pip install --quiet --no-deps -e . $(EDITABLE) && mv $(VENV)/.files.new $(VENV)/.files; \
	fi

# A Docker engine (installed and started if missing) and the sandbox image (built locally if missing).
sandbox-image:
	bash deployments/docker-engine.sh
	bash sandbox/build_image.sh

# A local Prefect server for the UI (http://127.0.0.1:4200); runs and re-runs report to it.
prefect-server: setup
	bash deployments/prefect-server.sh

run: setup sandbox-image prefect-server
	PREFECT_API_URL=http://127.0.0.1:4200/api $(BIN)/codemint run $(ARGS)

lint: setup
	$(BIN)/ruff check .

# mypy over the installed package (the link tree), so codemint.tasks is checked as codemint.tasks.
typecheck: setup
	cd "$$($(BIN)/python -I -c 'import codemint, pathlib; print(pathlib.Path(codemint.__file__).parent.parent)')" \
		&& $(BIN)/mypy --config-file $(CURDIR)/pyproject.toml --cache-dir $(CURDIR)/.mypy_cache -p codemint

test: setup sandbox-image lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: setup sandbox-image
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
