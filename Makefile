# Every target installs what it needs: a fresh clone needs only python3, node/npm and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
STAGE ?= dev
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install dev test test-vanilla lint format build synth deploy bench bench-search redrive replay reindex stateful-snapshot lock smoke clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## make dev: the whole service on http://127.0.0.1:$(PORT) (DATA_DIR=dir keeps state across restarts)
dev: install
	$(BIN)/python -m local_cloud --port $(PORT) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

## make test: unit, integration, end-to-end and infrastructure tests
test: install
	$(BIN)/python -m pytest

## make test-vanilla: integration, end-to-end and local-cloud tests on moto without the local speed-ups
## (the chaos convergence run and the stateful model run once, in make test: minutes each on vanilla moto)
test-vanilla: install
	LOCAL_CLOUD_MOTO_SPEEDUPS=off $(BIN)/python -m pytest tests/e2e tests/integration tests/local_cloud \
		--ignore=tests/e2e/test_convergence.py --ignore=tests/integration/test_timeline_model.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make build: the Lambda layer and function assets, without Docker
build: install
	$(BIN)/python scripts/build_assets.py

synth: build node_modules/.installed
	npx cdk synth --context stage=$(STAGE) --quiet

deploy: build node_modules/.installed
	npx cdk deploy --context stage=$(STAGE) $(CDK_ARGS) chirp-$(STAGE)

## make bench: fan-out strategies judged by a pre-registered rule, cost sweeps, fan-out lag, local load, cold imports
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): bench/requirements.txt $(STAMP)
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	@touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## make bench-search: search latency p50/p99 on the embedded engine at 10,000 and 100,000 tweets
bench-search: install
	$(BIN)/python -m bench.search $(BENCH_ARGS)

## make reindex: rebuild the search indexes from DynamoDB behind their aliases (stack chirp-$(STAGE) on
## AWS; ENDPOINT=url SEARCH=sqlite://... for the local cloud)
reindex: install
	$(BIN)/python scripts/reindex.py $(if $(ENDPOINT),--endpoint-url $(ENDPOINT) --engine $(SEARCH),--stack chirp-$(STAGE))

## make redrive: move the fanout DLQ's messages back to its queue (ENDPOINT=url for the local cloud)
redrive: install
	$(BIN)/python scripts/redrive.py $(if $(QUEUE),--queue $(QUEUE)) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

## make replay: move the replay DLQs' stream records back to their replay queues (ENDPOINT=url for the
## local cloud; otherwise the queues of stack chirp-$(STAGE) on AWS)
replay: install
	$(BIN)/python scripts/redrive.py --replay $(if $(ENDPOINT),--endpoint-url $(ENDPOINT),--stack chirp-$(STAGE))

## make lock: resolve requirements.txt again into the layer's lock (layers/dependencies/requirements.lock,
## every package with its hash; needs the package index)
lock: install
	$(BIN)/python scripts/build_assets.py --lock

## make smoke: the end-to-end smoke test through the public API (API_URL=... for a deployment; default:
## a running make dev)
smoke: install
	$(BIN)/python scripts/smoke.py --api-url $(or $(API_URL),http://127.0.0.1:$(PORT)/api/v1)

## make stateful-snapshot: record the stack's stateful resources after a replacement you intend (make test
## fails on any change that would replace or delete one)
stateful-snapshot: install
	$(BIN)/python -m tests.infrastructure.stateful

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
