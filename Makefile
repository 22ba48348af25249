# Every target is documented: `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= uv
PYTHON := .venv/bin/python
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)
# The test servers (scripts/provision.sh start). Tests flush this Redis database and create and
# drop their own MongoDB databases: never point these at data you want to keep.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_MONGODB_URL ?= mongodb://127.0.0.1:27017
# make run-local: a local Redis and FerretDB (database 0), on REDIS_PORT / MONGO_PORT like
# scripts/provision.sh. Used only when neither the environment nor .env sets REDIS_URL / MONGODB_URL.
LOCAL_REDIS_URL ?= redis://127.0.0.1:$(or $(REDIS_PORT),6379)/0
LOCAL_MONGODB_URL ?= mongodb://127.0.0.1:$(or $(MONGO_PORT),27017)
# make fuzz: a database of its own on the test Redis, wiped at start.
FUZZ_REDIS_URL ?= redis://127.0.0.1:6379/11

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: ## Install everything on this machine: redis-server, wrk, chromium, promtool, FerretDB, the Python env
	bash scripts/provision.sh install

.PHONY: services
services: ## Start local Redis and FerretDB (MongoDB-compatible) on 127.0.0.1
	bash scripts/provision.sh start

.PHONY: services-stop
services-stop: ## Stop the local Redis and FerretDB
	bash scripts/provision.sh stop

.PHONY: test
test: install services lint ## Install, start the local servers, lint, type-check and run every test
	cd tools/ferretdb && $(GO) test -mod=readonly ./...
	REDIS_URL=$(TEST_REDIS_URL) MONGODB_URL=$(TEST_MONGODB_URL) $(PYTHON) -m pytest

# The console's screenshots: the browser test that takes them, run alone, keeping its PNGs.
CONSOLE_SHOTS ?= $(CURDIR)/build/console-shots

.PHONY: console-shot
console-shot: install services ## PNG screenshots of each console view, desktop and 375 px wide, into build/console-shots/
	CONSOLE_SHOTS=$(CONSOLE_SHOTS) REDIS_URL=$(TEST_REDIS_URL) MONGODB_URL=$(TEST_MONGODB_URL) $(PYTHON) -m pytest -q \
		tests/gateway/console/test_console_in_a_browser.py::test_each_view_is_captured_at_desktop_and_phone_widths
	@ls -1 $(CONSOLE_SHOTS)/*.png

.PHONY: lint
lint: lint-docker ## ruff (lint and format check), mypy --strict, gofmt and go vet, and lint-docker
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	test -z "$$($(dir $(GO))gofmt -l tools/ferretdb)"
	cd tools/ferretdb && $(GO) vet -mod=readonly ./...

.PHONY: lint-docker
lint-docker: ## hadolint on both Dockerfiles; compose.yaml against the Compose Specification schema (offline)
	.venv/bin/hadolint --failure-threshold style Dockerfile.gateway Dockerfile.consumer
	.venv/bin/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

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

.PHONY: resume
resume: ## Send on trades idle for IDLE seconds (600) whose entry was lost (Redis without persistence)
	$(PYTHON) -m shared.streams.ops resume --idle $(or $(IDLE),600)

.PHONY: bench
bench: install services ## Cached dividends endpoint vs a bare FastAPI endpoint under wrk (PORT=18080; prints figures)
	REDIS_URL=redis://127.0.0.1:6379/14 MONGODB_URL=$(TEST_MONGODB_URL) MONGODB_DATABASE=bench \
		$(PYTHON) -m bench.gateway $(if $(PORT),--port $(PORT))

.PHONY: bench-pipeline
bench-pipeline: install services ## TRADES=1000 at once (REPLICAS="1 2"), open loop RATE=100/s for DURATION=30 s, and a Celery chain beside them
	REDIS_URL=redis://127.0.0.1:6379/13 MONGODB_URL=$(TEST_MONGODB_URL) MONGODB_DATABASE=bench_pipeline \
		$(PYTHON) -m bench.pipeline --trades $(or $(TRADES),1000) --replicas $(or $(REPLICAS),1 2) \
		--rate $(or $(RATE),100) --duration $(or $(DURATION),30)

.PHONY: chaos
chaos: install services ## Kill -9 each consumer, restart Redis (AOF / none) mid-run (TRADES=1000 per scenario); prints lost and double-submitted
	REDIS_URL=redis://127.0.0.1:6379/12 MONGODB_URL=$(TEST_MONGODB_URL) MONGODB_DATABASE=bench_chaos \
		$(PYTHON) -m bench.chaos --trades $(or $(TRADES),1000)

.PHONY: fuzz
fuzz: install services ## Schemathesis, every check on, against a running gateway on the devnode (EXAMPLES=600, SEED=); prints the counts
	REDIS_URL=$(FUZZ_REDIS_URL) MONGODB_URL=$(TEST_MONGODB_URL) MONGODB_DATABASE=fuzz \
		$(PYTHON) -m bench.fuzz --max-examples $(or $(EXAMPLES),600) $(if $(SEED),--seed $(SEED))

.PHONY: run-gateway
run-gateway: services ## Run the gateway on this machine (settings from .env / the environment)
	$(PYTHON) -m gateway --port 8000

# honcho's own .env reader drops the spaces inside values (a mnemonic, DESEARCH_QUERY_TEMPLATE), so
# it is given none (--env /dev/null); python-dotenv, the settings' own reader, loads .env instead,
# without overriding the environment. Ctrl-C: honcho sends SIGTERM to every process group, then
# SIGKILL to any still running after 5 s; then the local Redis and FerretDB are stopped if this
# run started them (the shell survives the Ctrl-C through its trap to do that).
.PHONY: run-local
run-local: install ## The whole service here, offline unless configured: gateway on :8000, consumers, devnode, Desearch stand-in; Ctrl-C stops all
	$(if $(wildcard .env),.venv/bin/dotenv --file .env run --no-override) bash -c '\
		export PATH="$(CURDIR)/.venv/bin:$$PATH"; \
		servers=""; \
		if [ -z "$$REDIS_URL" ] && ! bash scripts/provision.sh up redis; then servers="redis"; fi; \
		if [ -z "$$MONGODB_URL" ] && ! bash scripts/provision.sh up ferretdb; then servers="$$servers ferretdb"; fi; \
		if [ -n "$$servers" ]; then bash scripts/provision.sh start $$servers >/dev/null || exit 1; fi; \
		export REDIS_URL="$${REDIS_URL:-$(LOCAL_REDIS_URL)}" MONGODB_URL="$${MONGODB_URL:-$(LOCAL_MONGODB_URL)}" \
			API_TOKENS="$${API_TOKENS:-$$(dotenv --file .env.example get API_TOKENS)}"; \
		processes="gateway tweet-fetcher sentiment-scorer stake-executor"; \
		if [ -t 1 ]; then export LOG_FORMAT="$${LOG_FORMAT:-console}"; fi; \
		if [ -z "$$BITTENSOR_NETWORK" ]; then \
			echo "run-local: no BITTENSOR_NETWORK, the chain is the offline devnode on ws://127.0.0.1:9944"; \
			export BITTENSOR_NETWORK=ws://127.0.0.1:9944; processes="$$processes devnode"; \
		fi; \
		if [ -z "$$DESEARCH_API_KEY" ]; then \
			echo "run-local: no DESEARCH_API_KEY, tweets come from a canned stand-in on 127.0.0.1:8090"; \
			export DESEARCH_BASE_URL=http://127.0.0.1:8090 DESEARCH_API_KEY=offline-stand-in; \
			processes="$$processes desearch-standin"; \
		fi; \
		trap : INT TERM; \
		honcho start --procfile Procfile --env /dev/null $$processes; status=$$?; \
		if [ -n "$$servers" ]; then bash scripts/provision.sh stop $$servers; fi; \
		exit $$status'

.PHONY: up
up: ## Start the whole stack with Docker Compose (needs a Docker engine)
	docker compose up --build -d

.PHONY: down
down: ## Stop the Docker Compose stack
	docker compose down
