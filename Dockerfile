# Image of the Python services (worker, api, dashboard): the locked environment, no dev tools.
# PYTHON_IMAGE: the base image; the official python:3.11-slim unless a build overrides it
# (`make compose-test` builds on a local stand-in, infra/compose/podman.override.yml).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PYTHONUNBUFFERED=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /srv/arbitrage
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY app ./app
COPY agents ./agents
COPY tables ./tables
COPY dashboard ./dashboard
RUN uv sync --locked --no-dev
ENV PATH="/srv/arbitrage/.venv/bin:$PATH"
RUN useradd --system --create-home arbitrage && mkdir -p /data && chown arbitrage /data
USER arbitrage
