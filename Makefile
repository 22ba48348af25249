# Every target is documented: `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= uv
PYTHON := .venv/bin/python
# The test servers (scripts/provision.sh start). Tests flush this Redis database and create and
# drop their own MongoDB databases: never point these at data you want to keep.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_MONGODB_URL ?= mongodb://127.0.0.1:27017

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: ## Install everything on this machine: redis-server, wrk, FerretDB, the Python env
	bash scripts/provision.sh install

.PHONY: services
services: ## Start local Redis and FerretDB (MongoDB-compatible) on 127.0.0.1
	bash scripts/provision.sh start

.PHONY: services-stop
services-stop: ## Stop the local Redis and FerretDB
	bash scripts/provision.sh stop

.PHONY: test
test: install services lint ## Install, start the local servers, lint, type-check and run every test
	REDIS_URL=$(TEST_REDIS_URL) MONGODB_URL=$(TEST_MONGODB_URL) $(PYTHON) -m pytest

.PHONY: lint
lint: ## ruff (lint and format check) and mypy --strict
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

.PHONY: fmt
fmt: ## Format and auto-fix the code
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

.PHONY: asyncapi
asyncapi: ## Regenerate the event contract, docs/asyncapi/*.json, from the consumer apps
	$(PYTHON) -m consumers.asyncapi

.PHONY: streams
streams: ## Per stream: length, pending, lag, consumers and dead letters
	$(PYTHON) -m shared.streams.ops status

.PHONY: requeue
requeue: ## Put dead letters back on their streams: ID=<entry id> or ALL=1 (completed trades are skipped)
	$(PYTHON) -m shared.streams.ops requeue $(if $(ALL),--all,--id $(ID))

.PHONY: bench
bench: install services ## Cached dividends endpoint vs a bare FastAPI endpoint under wrk (prints figures)
	REDIS_URL=redis://127.0.0.1:6379/14 MONGODB_URL=$(TEST_MONGODB_URL) MONGODB_DATABASE=bench \
		$(PYTHON) -m bench.gateway

.PHONY: run-gateway
run-gateway: services ## Run the gateway on this machine (settings from .env / the environment)
	$(PYTHON) -m gateway --port 8000

.PHONY: up
up: ## Start the whole stack with Docker Compose (needs a Docker engine)
	docker compose up --build -d

.PHONY: down
down: ## Stop the Docker Compose stack
	docker compose down
