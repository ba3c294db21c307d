# Everything a developer needs, from a fresh machine with only Python 3.11+ and make.
# `make dev` runs the whole system on embedded PostgreSQL, Kafka-protocol broker and SMTP sink;
# `make test` runs every test tier against real servers; `make up` is for operators with Docker.

SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
export UV_PYTHON_PREFERENCE := only-system
# uv on PATH wins; otherwise a private copy is bootstrapped into .tools/ with pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest

.PHONY: help install dev seed test test-unit test-integration test-e2e bench-matching lint typecheck fmt up down logs ps clean

help: ## Show the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found on PATH: installing uv $(UV_VERSION) into .tools/"
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml infra/devstack/pyproject.toml
	$(UV) sync --all-packages --frozen
	@touch $@

install: $(VENV)/.synced ## Install every package and tool into .venv (uv, from the lock file)

dev: install ## Run the whole system and the operator console on embedded PostgreSQL, broker and SMTP sink (Ctrl-C stops it)
	$(VENV)/bin/devstack up

seed: install ## Register a demo population (mentors and mentees) through the public API of a running stack
	$(VENV)/bin/devstack seed

test: install browser browser-tools ## Unit, integration, end-to-end and (reduced) fault-injection tests against real PostgreSQL, broker and SMTP
	$(PYTEST) tests/unit tests/integration tests/e2e tests/faults

test-unit: install ## Unit tests only (no servers)
	$(PYTEST) tests/unit

test-integration: install ## Integration tests (real PostgreSQL and broker)
	$(PYTEST) tests/integration

test-e2e: install browser browser-tools ## End-to-end tests (the services as processes, the operator console and the web pages in Chromium)
	$(PYTEST) tests/e2e

# The operator console's browser test drives Debian's Chromium (no browser download by Playwright).
CHROMIUM := /usr/bin/chromium
.PHONY: browser
browser: ## Install Chromium from Debian's packages for the console's browser test (root; skipped when present)
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "make browser: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get)."; \
		echo "  Install it with: sudo apt-get install --no-install-recommends chromium"; \
		echo "  Until then tests/e2e/test_console_browser.py fails."; \
		exit 0; \
	fi; \
	echo "make browser: installing Chromium from Debian's packages"; \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
		|| echo "make browser: installing Chromium failed (see above); the console's browser test will fail"

# axe-core, from the npm registry at the version package-lock.json pins, checks the web pages
# for accessibility problems inside the browser test.
.PHONY: browser-tools
browser-tools: tests/e2e/node_modules/.installed ## Install the browser tests' JavaScript tools (axe-core) with npm ci

tests/e2e/node_modules/.installed: tests/e2e/package.json tests/e2e/package-lock.json
	@command -v npm >/dev/null || { echo "make browser-tools: npm is missing (install Node.js 18+ with npm); the web pages' browser test will fail"; exit 0; }
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: test-faults
test-faults: install ## Fault-injection suite at full scale (kills, broker and PostgreSQL outages, poison, replays, four matchers)
	FAULTS_SCALE=full $(PYTEST) tests/faults

# QUICK=1 runs a benchmark as a seconds-long smoke run into var/bench/ (the reports in docs/ stay
# as the last full run wrote them); BENCH_ARGS passes further options (see --help).
bench-matching: install ## Benchmark the matcher on a synthetic population (minutes); writes docs/benchmarks/matching.md (QUICK=1: a smoke run into var/bench/)
	$(PY) -m benchmarks.matching $(if $(QUICK),--quick --output var/bench/matching-quick.md,--output docs/benchmarks/matching.md) $(BENCH_ARGS)

.PHONY: weights-fit weights-replay
WEIGHTS_DIR ?= var/weights
weights-fit: install ## Fit score weights from the matching database's outcomes into var/weights/ (WEIGHTS_DIR) as weights-vN.json; WEIGHTS_ARGS passes options (see --help)
	$(PY) -m matching_service.weights fit --output-dir $(WEIGHTS_DIR) $(WEIGHTS_ARGS)

weights-replay: install ## Replay past proposals with CANDIDATE=<weights file> against the current weights (WEIGHTS_ARGS passes options)
	@if [ -z "$(CANDIDATE)" ]; then echo "make weights-replay: give the weights file to try, e.g. CANDIDATE=$(WEIGHTS_DIR)/weights-v2.json"; exit 2; fi
	$(PY) -m matching_service.weights replay --candidate $(CANDIDATE) $(WEIGHTS_ARGS)

.PHONY: bench
bench: install ## Whole pipeline under rising open-loop load, against the machine's anchors (about 10 min); writes docs/benchmarks/pipeline.md (QUICK=1: a smoke run into var/bench/)
	$(PY) -m benchmarks.pipeline $(if $(QUICK),--quick --output var/bench/pipeline-quick.md,--output docs/benchmarks/pipeline.md) $(BENCH_ARGS)

lint: install ## ruff and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src infra/devstack/src benchmarks tools

fmt: install ## Format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: docs
docs: install ## Generate the API documents (docs/api/) and the configuration reference (docs/configuration.md) from the code (no servers needed)
	$(PY) -m tools.gen_docs

up: ## Operators: build and start the stack with Docker Compose
	docker compose up --build -d

.PHONY: up-monitoring
up-monitoring: ## Operators: the stack plus Prometheus (127.0.0.1:9090) and Grafana (127.0.0.1:3000)
	docker compose --profile monitoring up --build -d

down: ## Operators: stop the Docker Compose stack
	docker compose down

logs: ## Operators: follow the stack's logs
	docker compose logs -f

ps: ## Operators: list the stack's containers
	docker compose ps

clean: ## Remove the virtualenv, caches and the dev stack's data under var/
	rm -rf $(VENV) .tools var .pytest_cache .mypy_cache .ruff_cache tests/e2e/node_modules
