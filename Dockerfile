# syntax=docker/dockerfile:1
# The Assistant Workbench API: `docker build -t assistant-workbench .`
# Stateless: point several containers at one Redis (cache, sessions, rate limits) and scrape
# each one's /metrics. See docs/deployment.md and deploy/compose.yaml.

# -- build: a compiler for llama-cpp-python (built from source), then the locked environment
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
# dependencies first: this layer is reused until uv.lock changes
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY assistant ./assistant
COPY evals ./evals
RUN uv sync --locked --no-dev --no-editable

# -- runtime: the environment, the datasets, no compiler
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 assistant
COPY --from=build /app/.venv /app/.venv
COPY datasets /app/datasets
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ASSISTANT_SERVER__HOST=0.0.0.0 \
    ASSISTANT_SERVER__PORT=8000 \
    ASSISTANT_LOG__JSON_FORMAT=true \
    PROMETHEUS_MULTIPROC_DIR=/tmp/assistant-metrics
USER assistant
WORKDIR /home/assistant
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["assistant", "serve"]
