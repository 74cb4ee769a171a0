# The README's commands. Each target does its own set-up (venv, pip, npm) and is idempotent:
# set-up is re-run only when a requirements or lock file changes.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make

# Node 20 is end-of-life for jsii; the value must contain the major version to silence its banner.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
CDK := node_modules/.bin/cdk

.PHONY: help setup synth verify deploy-local deploy destroy diff lock test lint typecheck unit bench bench-verify fuzz catalog dist clean

help:
	@echo "make deploy-local  set up, synth, deploy the reference environment to a local AWS emulator, read it back,"
	@echo "                   destroy it and report orphans (no AWS account needed; Ctrl-C stops it and leaves nothing)"
	@echo "make synth   set up, synthesize the reference environment into cdk.out/, print a summary"
	@echo "             (cdk.out/summary.md, cdk.out/architecture.md, cdk.out/dashboard.md and .svg);"
	@echo "             CONFIG=config/minimal.yaml picks another config"
	@echo "make verify  synth, then hpc-verify: every declared path (network, IAM) checked from cdk.out, with every AZ up"
	@echo "             and with each AZ lost; exit 1 when a path is blocked"
	@echo "make deploy  cdk bootstrap + cdk deploy --all --concurrency 4 to your AWS account (your credentials): stacks"
	@echo "             that do not depend on each other deploy together (the summary prints the waves)"
	@echo "make destroy cdk destroy --all (asks first; the stateful storage is retained)"
	@echo "make test    set up and run every check (ruff, mypy --strict, pytest: unit, snapshots, cfn-lint, cdk-nag, and every"
	@echo "             Python example of README.md and docs/)"
	@echo "make diff   cdk diff of every reference stack against BASE (default origin/main, else HEAD~1), then what"
	@echo "            CloudFormation would replace and what that costs (hpc-changes; exit 1 on data loss or a failing deploy)"
	@echo "make lock   show the stateful logical-ID lock (tests/lock/); rewrite it with scripts/stateful_lock.py --write"
	@echo "make bench   measure synth time against bare aws-cdk-lib, scale (1/10/50 queues), the suite's time:"
	@echo "             writes benchmarks/results.md and benchmarks/scale.md (about 10 minutes)"
	@echo "make bench-verify  time hpc-verify on the reference app (7 runs, median): writes benchmarks/verify.md"
	@echo "make fuzz    1,000 hypothesis examples per construct, each synthesized, cfn-lint and cdk-nag checked:"
	@echo "             writes benchmarks/fuzz.md"
	@echo "make catalog rebuild the instance catalog (scripts/refresh_catalog.py)"
	@echo "make dist    build the sdist and wheel into dist/ (python -m build, offline), install the wheel into a fresh"
	@echo "             venv and import it with its package data (scripts/dist.py)"

$(STAMP)/python: requirements.txt requirements-dev.txt pyproject.toml
	@mkdir -p $(STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(STAMP)/node: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP)/python $(STAMP)/node

CONFIG ?= config/reference.yaml
# Stacks that do not depend on each other deploy (and are destroyed) at the same time: the CDK CLI's --concurrency.
# The synth summary prints the waves; the reference's widest has 2 stacks, so 4 leaves room for a larger config.
DEPLOY_CONCURRENCY ?= 4

synth: setup
	rm -rf cdk.out
	$(CDK) synth --quiet -c hpc:config=$(CONFIG)
	$(BIN)/python scripts/summary.py --write cdk.out >/dev/null  # the app printed the summary; this writes the .md files

# hpc-verify: the paths the constructs declare, checked from cdk.out alone (python -m hpc_constructs.verify).
verify: synth
	$(BIN)/python -m hpc_constructs.verify cdk.out --each-az

# The local emulator (scripts/emulator: moto on loopback) gets the same cdk.out that `make deploy` sends to AWS.
deploy-local: synth
	$(BIN)/python scripts/deploy_local.py --app cdk.out --concurrency $(DEPLOY_CONCURRENCY)

# Before any AWS call (the synth's lookups included): refuse a config that still holds example values.
deploy: setup
	@if [ -n "$$AWS_ENDPOINT_URL" ]; then echo "make deploy: AWS_ENDPOINT_URL is set ($$AWS_ENDPOINT_URL); unset it to deploy to AWS" >&2; exit 1; fi
	$(BIN)/python scripts/deploy_check.py $(CONFIG)
	$(MAKE) --no-print-directory synth CONFIG=$(CONFIG)
	$(CDK) bootstrap --app cdk.out
	$(CDK) deploy --all --concurrency $(DEPLOY_CONCURRENCY) --app cdk.out

destroy: setup
	@if [ -n "$$AWS_ENDPOINT_URL" ]; then echo "make destroy: AWS_ENDPOINT_URL is set ($$AWS_ENDPOINT_URL); unset it to destroy in AWS" >&2; exit 1; fi
	$(CDK) destroy --all --concurrency $(DEPLOY_CONCURRENCY) -c hpc:config=$(CONFIG)

diff: setup
	$(BIN)/python scripts/diff.py $(if $(BASE),--base $(BASE))

lock: setup
	$(BIN)/python scripts/stateful_lock.py

lint: setup
	$(BIN)/ruff check hpc_constructs stacks tests scripts benchmarks app.py conftest.py

typecheck: setup
	$(BIN)/mypy --strict hpc_constructs

# pytest-xdist: one worker per core (at most 4); --dist loadfile keeps a file's tests on one worker, so a module's
# synthesized app or local deploy is built once (the 303 EFA types are split into one file per shard for this).
# --no-loadscope-reorder: files are handed out in collection order, which tests/conftest.py sorts longest first.
PYTEST_WORKERS ?= auto
unit: setup
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile --no-loadscope-reorder

test: lint typecheck unit

bench: setup
	$(BIN)/python benchmarks/bench.py

bench-verify: synth
	$(BIN)/python benchmarks/verify.py --app cdk.out --out benchmarks/verify.md

fuzz: setup
	$(BIN)/python benchmarks/fuzz.py --examples 1000 --out benchmarks/fuzz.md

catalog: setup
	$(BIN)/python scripts/refresh_catalog.py

dist: setup
	$(BIN)/python scripts/dist.py --outdir dist

clean:
	rm -rf dist cdk.out $(STAMP) .pytest_cache .mypy_cache .ruff_cache
