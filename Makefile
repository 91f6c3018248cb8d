# feecast: `make demo` and `make test` set themselves up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
BIN         := $(VENV)/bin
TOOLS       := .tools
SAM_VENV    := $(TOOLS)/sam
SAM         := $(SAM_VENV)/bin/sam
NODE_DIR    := $(TOOLS)/node
ASL_VALIDATOR := $(NODE_DIR)/node_modules/.bin/asl-validator
# checkov in its own environment too: it pins an old boto3.
CHECKOV_VENV := $(TOOLS)/checkov
CHECKOV     := $(CHECKOV_VENV)/bin/checkov
# template.yaml after the SAM transform, as CloudFormation receives it (scripts/transform_template.py).
LINT_TEMPLATE := .aws-sam/lint/template.json
# `sam build` runs pip for the Lambda runtime's python (python3.12): put one on PATH.
LAMBDA_PYTHON_DIR ?= $(shell for d in $$HOME/.pyenv/versions/3.12*/bin /usr/bin /usr/local/bin; do [ -x $$d/python3.12 ] && echo $$d && break; done)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: help setup demo test test-unit test-integration test-lifecycle lint format bench build deploy-guided clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# torch first, from the local CPU wheel: anything that depends on torch installed before it
# would pull the CUDA build (gigabytes).
$(VENV)/.installed: pyproject.toml layers/feecast/requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# SAM CLI in its own environment: its pinned dependencies must not steer the project's.
$(SAM):
	test -d $(SAM_VENV) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q "aws-sam-cli>=1.140,<2"

$(CHECKOV):
	test -d $(CHECKOV_VENV) || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q "checkov>=3.3.30,<3.4"

$(ASL_VALIDATOR):
	mkdir -p $(NODE_DIR)
	cd $(NODE_DIR) && ( test -f package.json || npm init -y >/dev/null ) && npm install --silent --no-audit --no-fund asl-validator@4

setup: $(VENV)/.installed $(SAM) $(ASL_VALIDATOR) ## create the environments (idempotent)

demo: $(VENV)/.installed ## run the whole lifecycle on the local twin and write a report
	$(BIN)/feecast local demo $(DEMO_ARGS)

# pytest workers: the twin's tests mostly wait on its processes (Lambda workers, containers),
# so more workers than cores keep the CPU busy; each worker has its own twins and fork servers.
# --dist loadfile: a module's tests share its module fixtures (the lifecycle module runs the
# whole demo once); tests/conftest.py puts that module first.
TEST_WORKERS ?= 3

# The environments install side by side, then lint and build run side by side (a fresh clone
# spends most of its time there); `make -j` prints each target's output in one piece.
test: ## lint, build the Lambda artifacts, then every test (unit, integration, reliability, lifecycle)
	$(MAKE) --no-print-directory -j4 --output-sync=target setup $(CHECKOV)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint build
	$(BIN)/pytest tests -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-unit: $(VENV)/.installed ## fast pure tests only
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

test-integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration -q $(PYTEST_ARGS)

test-lifecycle: $(VENV)/.installed
	$(BIN)/pytest tests/lifecycle -q $(PYTEST_ARGS)

lint: setup $(CHECKOV) ## ruff, mypy, sam validate --lint, cfn-lint after the SAM transform, checkov, asl-validator
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(SAM) validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	@# cfn-lint no longer transforms SAM: lint what CloudFormation receives (runtimes, timeouts,
	@# state machine definitions). W1020: SAM itself writes parameter defaults into some !Sub.
	$(SAM_VENV)/bin/python scripts/transform_template.py --output $(LINT_TEMPLATE) --region $(AWS_DEFAULT_REGION)
	$(SAM_VENV)/bin/cfn-lint --regions $(AWS_DEFAULT_REGION) --ignore-checks W1020 -- $(LINT_TEMPLATE)
	@# Security checks of the template and of the roles/functions SAM generates; project-wide
	@# skips are in .checkov.yaml, a skip for one resource in its Metadata, each with its reason.
	$(CHECKOV) --config-file .checkov.yaml --quiet --compact --skip-download --framework cloudformation secrets -f template.yaml $(LINT_TEMPLATE)
	@# --no-arn-check: Resources are ${...} DefinitionSubstitutions until SAM fills them in.
	for f in statemachines/*.asl.json; do $(ASL_VALIDATOR) --no-arn-check --json-path "$$f" || exit 1; done
	$(BIN)/python scripts/generate_deepar_image_map.py --check

format: $(VENV)/.installed ## fix what ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# `build` first: the functions benchmark measures the built packages (sizes, imports on the
# runtime's python3.12). BENCH_ARGS="--strict" exits 1 when a goal is missed.
bench: $(VENV)/.installed build ## benchmarks -> bench/results.json + results.md (speed goals live here, not in tests)
	LAMBDA_PYTHON="$(LAMBDA_PYTHON_DIR)/python3.12" $(BIN)/python -m bench $(BENCH_ARGS)

# The layers are built by their Makefiles (layers/*/Makefile) with the runtime's python3.12's
# pip, for manylinux2014_x86_64, on any build machine; the check then reads every shipped .so.
build: $(SAM) ## sam build for the Lambda platform, then check binaries, links and the 250 MiB quota
	@test -n "$(LAMBDA_PYTHON_DIR)" || { echo "sam build needs python3.12 (the Lambda runtime) on PATH or under pyenv"; exit 1; }
	PATH="$(LAMBDA_PYTHON_DIR):$$PATH" $(SAM) build
	$(BIN)/python scripts/check_lambda_package.py .aws-sam/build --python "$(LAMBDA_PYTHON_DIR)/python3.12"

deploy-guided: build ## first deployment to AWS, asks for the parameters
	$(SAM) deploy --guided

clean: ## remove environments and build output
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report
