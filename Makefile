# Two commands for users: `make demo` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.8
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup test test-unit lint typecheck check demo stack-up stack-down stack-status clean

help:
	@echo "make demo   - start the local stack and the system, replay a sample, print the URLs"
	@echo "make test   - create the environment from the lock file, run all tests (starts the stack)"
	@echo "make check  - ruff lint, ruff format --check, mypy"

# The environment, exactly as locked.
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --locked --quiet

test: setup
	$(UV) run pytest

test-unit: setup
	$(UV) run pytest -m "not integration"

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: setup
	$(UV) run mypy

check: lint typecheck

stack-up: setup
	$(UV) run arbitrage stack up

stack-down: setup
	$(UV) run arbitrage stack down

stack-status: setup
	$(UV) run arbitrage stack status

demo: setup
	$(UV) run arbitrage demo

clean: stack-down
	rm -rf .stack
