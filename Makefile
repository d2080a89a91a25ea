# Two commands for users: `make demo` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.8
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup airflow-env airflow airflow-stop browser test test-airflow test-unit lint typecheck check demo stack-up stack-down stack-status clean compose-test

help:
	@echo "make demo   - start the local stack and the system, replay a sample, print the URLs"
	@echo "make test   - create the environment from the lock file, run all tests (starts the stack)"
	@echo "make check  - ruff lint, ruff format --check, mypy"

# The environment, exactly as locked.
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --locked --quiet

# Debian's Chromium and its WebDriver for the dashboard's browser test (installed once; root).
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || { \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

# Airflow conflicts with Faust: its own lock (infra/airflow/uv.lock) and virtualenv.
AIRFLOW_VENV := $(CURDIR)/.venv-airflow
AIRFLOW_PYTEST := PYTHONPATH=$(CURDIR) $(AIRFLOW_VENV)/bin/python -m pytest tests/airflow

airflow-env: setup
	@UV_PROJECT_ENVIRONMENT=$(AIRFLOW_VENV) $(UV) sync --locked --quiet --project infra/airflow

# `airflow standalone` with this repository's DAGs, in a session of its own (devtools/airflow_standalone.py):
# Ctrl-C, SIGTERM or `make airflow-stop` stop all of it. AIRFLOW_HOME defaults to .stack/airflow.
AIRFLOW_LAUNCHER := PYTHONPATH=$(CURDIR) $(AIRFLOW_VENV)/bin/python -m devtools.airflow_standalone

airflow: airflow-env
	@$(AIRFLOW_LAUNCHER) run

airflow-stop:
	@test ! -x $(AIRFLOW_VENV)/bin/python || $(AIRFLOW_LAUNCHER) stop

# The stack is started once for both test environments and stopped afterwards only when it
# was not running before (the pytest fixtures never stop a stack they did not start).
test: setup browser airflow-env
	@$(UV) run arbitrage stack status >/dev/null 2>&1; was_up=$$?; \
	$(UV) run arbitrage stack up || exit 1; \
	status=0; \
	$(UV) run pytest || status=1; \
	$(AIRFLOW_PYTEST) || status=1; \
	if [ $$was_up -ne 0 ]; then $(UV) run arbitrage stack down; fi; \
	exit $$status

test-airflow: airflow-env
	$(AIRFLOW_PYTEST)

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

# docker-compose.yml for real, under Podman with local stand-ins of the images (root; needs the
# stack's host ports free): devtools/compose_test.py. COMPOSE_TEST_ARGS=--keep-images keeps them.
compose-test: setup browser
	$(UV) run python -m devtools.compose_test $(COMPOSE_TEST_ARGS)

clean: stack-down
	rm -rf .stack
