# Assistant Workbench — developer entry points.
#
# Every target installs what it needs, so a fresh machine with only python3 + pip works:
# uv is installed on demand, and `uv sync --locked` builds the environment from uv.lock.
# (llama-cpp-python may build from source: that needs a C/C++ compiler, e.g. `apt-get install
# build-essential`.)

.DEFAULT_GOAL := help
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# --locked: fail instead of silently rewriting uv.lock when it is out of date with pyproject.toml;
# --offline: `setup` has installed everything, and uv must not re-fetch (and rebuild) sdists.
RUN := $(UV) run --locked --offline

# Material for MkDocs prints an end-of-life banner on every build; keep CI logs readable.
export NO_MKDOCS_2_WARNING := 1
# Precompile bytecode at install: this environment sets PYTHONDONTWRITEBYTECODE, and without
# .pyc files every process would recompile LangChain from source on import (seconds each).
export UV_COMPILE_BYTECODE := 1

# apt-get as root here; through sudo on machines (e.g. GitHub's runners) where we are not root
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help system-deps test-deps uv-install setup serve notebooks jupyter test lint format docs docs-serve screenshots bench scoreboard clean

help: ## List the targets
	@echo "Usage: make <target> [HOST=127.0.0.1] [PORT=8000] [PYTEST_ARGS='-k foo']"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

uv-install: ## Install uv with pip if it is not available
	@if command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1; then \
		: ; \
	else \
		echo "uv not found: installing it with pip"; \
		python3 -m pip install --quiet uv \
			|| python3 -m pip install --quiet --user --break-system-packages uv; \
	fi

system-deps: ## Install a C/C++ compiler with apt-get when missing (llama-cpp-python builds from source)
	@if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "no C++ compiler: installing build-essential with apt-get"; \
		$(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq build-essential; \
	fi

test-deps: ## Install the servers the tests run for real (redis-server, prometheus + promtool) with apt-get when missing
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing="$$missing prometheus"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing with apt-get:$$missing"; \
		$(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq $$missing; \
	fi

setup: system-deps uv-install ## Create/refresh .venv from uv.lock (all dependency groups)
	@# Offline first: the package index's cache headers make uv re-download sdists after a few
	@# minutes, and a re-downloaded llama-cpp-python sdist is rebuilt (~6 min on 2 cores) even
	@# though a wheel built from the same file is cached. Online only when the cache lacks a file.
	@$(UV) sync --locked --offline --quiet 2>/dev/null || $(UV) sync --locked

serve: setup ## Serve the OpenAI-compatible API (HOST, PORT overridable)
	$(RUN) assistant serve --host $(HOST) --port $(PORT)

test: setup test-deps ## Run the test suite (extra arguments via PYTEST_ARGS)
	$(RUN) pytest $(PYTEST_ARGS)

lint: setup ## ruff, ruff format --check, import-linter, mypy (strict), bandit
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) mypy
	$(RUN) bandit -c pyproject.toml -r assistant evals -q

format: setup ## Format and autofix with ruff
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

notebooks: setup ## Open the marimo notebooks in the editor (http://127.0.0.1:2718)
	$(RUN) marimo edit notebooks/ --host $(HOST) --port 2718

jupyter: setup ## Open the Jupyter quickstart in JupyterLab
	$(UV) run --locked --group jupyter jupyter lab notebooks/quickstart.ipynb --ip $(HOST) --no-browser \
		$(if $(filter 0,$(shell id -u)),--allow-root)

screenshots: setup ## Screenshot each marimo notebook into docs/img (installs Debian's chromium)
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "no chromium: installing it with apt-get"; \
		$(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq chromium; \
	fi
	$(UV) run --locked --group screenshots python tools/screenshot_notebooks.py

docs: setup ## Build the documentation site (strict: warnings are errors)
	$(RUN) mkdocs build --strict

docs-serve: setup ## Serve the documentation with live reload
	$(RUN) mkdocs serve -a 127.0.0.1:8001

bench: setup ## Run the local-model benchmark
	$(RUN) python benchmarks/local_model.py

scoreboard: setup test-deps ## Fault, hostile-input and secret suites + a short load test -> docs/reliability.md
	$(RUN) python tools/scoreboard.py

clean: ## Remove build, cache and docs output (keeps .venv)
	rm -rf site build dist .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
